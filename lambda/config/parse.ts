/** Turns the parameter file's text into an {@link ArchiverConfig}, or one error listing every problem. */
import { z } from "zod";
import { ConfigError, type ConfigProblem } from "./error";
import { deepFreeze } from "./freeze";
import { cleanJsonMessage, type JsonErrorLocation, jsonHint, locateJsonError } from "./json-syntax";
import { configSchema } from "./schema";
import { clip, maskLine, printable, redact, safeValue, showValue } from "./shown";
import type { ArchiverConfig } from "./types";

/**
 * How deep arrays and objects may nest in the parameter file. The file itself needs 3 levels (the
 * file's object, `workspaces`, a workspace); anything much deeper is not a parameter file, and is
 * refused before validation, whose code (and zod's) recurses once per level.
 */
export const MAX_NESTING = 32;

/**
 * The most entries an array of the parameter file may have: `workspaces` is its only array (the
 * scale benchmark plans 5,000 in about 5 s; the bundled file of 10,000 is about 1 MB). Refused
 * before validation, which would otherwise describe every entry of a huge array.
 */
export const MAX_ARRAY_ENTRIES = 10_000;

/**
 * Validates the parameter file's text and applies the defaults. Pure: no file access.
 *
 * @param source the file name, used in messages
 * @throws {ConfigError} `CONFIG_MALFORMED_JSON` or `CONFIG_INVALID`, listing every problem
 * @example
 * ```ts
 * const config = parseConfig('{"workspaces":[{"groupId":"32b6e34b3d91647abb20e7b8","tenantName":"prod"}]}', "inline");
 * config.window.minutes; // 60
 * ```
 */
export function parseConfig(text: string, source: string): ArchiverConfig {
  return validateConfig(parseJson(text, source), source);
}

/**
 * Validates a parameter file's parsed value (or a configuration with a setting overridden) and
 * applies the defaults.
 *
 * @throws {ConfigError} `CONFIG_INVALID`, listing every problem
 * @example
 * ```ts
 * validateConfig({ ...config, atlas: { ...config.atlas, baseUrl: process.env.ATLAS_BASE_URL } }, "ATLAS_BASE_URL");
 * ```
 */
export function validateConfig(raw: unknown, source: string): ArchiverConfig {
  const shape = shapeProblem(raw);
  if (shape) {
    const path = jsonPath(shape.path);
    throw new ConfigError("CONFIG_INVALID", `${source} has 1 problem:\n  - ${path}: ${shape.message}`, {
      file: source,
      problems: [{ path, message: shape.message }],
    });
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const { described, unlisted } = describeIssues(result.error.issues, raw);
    const total = described.length + unlisted;
    const lines = described.map((p) => `  - ${p.line}`);
    if (unlisted > 0) lines.push(`  … and ${unlisted} more problem${unlisted === 1 ? "" : "s"}, not listed`);
    const count = total === 1 ? "1 problem" : `${total} problems`;
    throw new ConfigError("CONFIG_INVALID", `${source} has ${count}:\n${lines.join("\n")}`, {
      file: source,
      problems: described.map((p) => p.problem),
    });
  }
  const { $schema: _ignored, ...config } = result.data;
  return deepFreeze<ArchiverConfig>(config);
}

// ---------------------------------------------------------------------------------------------
// Malformed JSON

function parseJson(text: string, source: string): unknown {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (body.trim() === "") {
    const message = 'the file is empty; it must hold a JSON object such as {"workspaces": [...]}';
    throw new ConfigError("CONFIG_MALFORMED_JSON", `${source} is not valid JSON: ${message}`, {
      file: source,
      problems: [{ path: "$", message, line: 1, column: 1 }],
    });
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const at = locateJsonError(detail, body);
    const reason = printable(
      clip(redact(`${cleanJsonMessage(detail)}${jsonHint(body, at.position)}`), MAX_MESSAGE_LENGTH),
    );
    throw new ConfigError(
      "CONFIG_MALFORMED_JSON",
      `${source} is not valid JSON at line ${at.line}, column ${at.column}: ${reason}\n${excerpt(body, at)}`,
      {
        file: source,
        // V8's message quotes the text around the error: the cause keeps it with credentials masked.
        cause: new SyntaxError(printable(maskLine(detail))),
        problems: [
          {
            path: "$",
            message: `line ${at.line}, column ${at.column}: ${reason}`,
            line: at.line,
            column: at.column,
          },
        ],
      },
    );
  }
}

/** The offending line with a caret under the column. */
function excerpt(text: string, at: JsonErrorLocation): string {
  const line = maskLine((text.split("\n")[at.line - 1] ?? "").replace(/\r$/, "").replace(/\t/g, " "));
  const start = Math.max(0, at.column - 1 - 60);
  const shown = printable(line.slice(start, start + 100));
  const gutter = String(at.line);
  return `  ${gutter} | ${shown}\n  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, at.column - 1 - start))}^`;
}

// ---------------------------------------------------------------------------------------------
// Nesting

/**
 * The first array or object (in document order) nested more than {@link MAX_NESTING} levels deep
 * or holding more than {@link MAX_ARRAY_ENTRIES} entries, if any. Iterative, with at most
 * MAX_NESTING frames: any input fits.
 */
function shapeProblem(raw: unknown): { path: PathSegment[]; message: string } | undefined {
  interface Frame {
    readonly value: object;
    /** The object's keys; `undefined` for an array. */
    readonly keys: readonly string[] | undefined;
    readonly length: number;
    next: number;
    /** How this container is reached from its parent. */
    readonly segment: PathSegment;
  }
  const stack: Frame[] = [];
  const enter = (value: unknown, segment: PathSegment) => {
    if (typeof value !== "object" || value === null) return undefined;
    const path = () => [...stack.slice(1).map((f) => f.segment), ...(stack.length > 0 ? [segment] : [])];
    if (stack.length >= MAX_NESTING) {
      return {
        path: path(),
        message:
          `nests arrays and objects deeper than ${MAX_NESTING} levels (the parameter file needs 3: the file, ` +
          `"workspaces" and a workspace); remove the extra nesting`,
      };
    }
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    const length = keys ? keys.length : (value as unknown[]).length;
    if (!keys && length > MAX_ARRAY_ENTRIES) {
      return {
        path: path(),
        message: `has ${length} entries; at most ${MAX_ARRAY_ENTRIES} are allowed (the archiver handles at most ${MAX_ARRAY_ENTRIES} workspaces)`,
      };
    }
    stack.push({ value, keys, length, next: 0, segment });
    return undefined;
  };
  const first = enter(raw, "");
  if (first) return first;
  for (;;) {
    const top = stack.at(-1);
    if (top === undefined) return undefined;
    if (top.next >= top.length) {
      stack.pop();
      continue;
    }
    const index = top.next++;
    const segment = top.keys ? (top.keys[index] as string) : index;
    const problem = enter((top.value as Record<PropertyKey, unknown>)[segment], segment);
    if (problem) return problem;
  }
}

// ---------------------------------------------------------------------------------------------
// Rule violations

type PathSegment = PropertyKey;

/** The longest key shown in a path; a longer one is cut (with "..."). */
const MAX_KEY_SHOWN = 40;
/** The longest problem message; a longer one is cut (with "..."). */
const MAX_MESSAGE_LENGTH = 1000;
/** How many problems the error lists (and keeps in `problems`); the others are counted. */
export const MAX_LISTED_PROBLEMS = 100;

/** `$.workspaces[1].groupId`; long keys are cut, and any credentials in them hidden. */
function jsonPath(path: readonly PathSegment[]): string {
  let text = "$";
  for (const segment of path) {
    if (typeof segment === "number") {
      text += `[${segment}]`;
      continue;
    }
    const key = clip(redact(String(segment)), MAX_KEY_SHOWN);
    text += /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return text;
}

/** The value at `path` in the parsed file, if the key is there. */
function valueAt(raw: unknown, path: readonly PathSegment[]): { found: boolean; value?: unknown } {
  let current: unknown = raw;
  for (const segment of path) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) {
      return { found: false };
    }
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { found: true, value: current };
}

/** The keys the schema knows for the object at `path`. */
function knownKeys(path: readonly PathSegment[]): string[] {
  const unwrap = (schema: unknown): unknown => {
    let current = schema;
    while (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional
    ) {
      current = current.unwrap();
    }
    return current;
  };
  let schema = unwrap(configSchema);
  for (const segment of path) {
    if (schema instanceof z.ZodObject && typeof segment === "string") schema = unwrap(schema.shape[segment]);
    else if (schema instanceof z.ZodArray) schema = unwrap(schema.element);
    else return [];
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known key `key` most likely is a typo of, if any. The edit distance of two keys is at least
 * the difference of their lengths (exactly that when one begins with the other), so the table is
 * computed only for keys of nearly the same length: a long key costs no more than reading it.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    const limit = Math.max(1, Math.floor(Math.max(key.length, candidate.length) / 3));
    const prefix = lower.length >= 4 && (other.startsWith(lower) || lower.startsWith(other));
    const gap = Math.abs(lower.length - other.length);
    const distance = prefix ? gap : gap > limit ? Number.POSITIVE_INFINITY : editDistance(lower, other);
    const near = distance <= limit || prefix;
    if (near && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closestKey(key, known);
  const allowed = `allowed here: ${known.join(", ")}`;
  return guess === undefined
    ? `is not a known key; ${allowed}`
    : `is not a known key; did you mean "${guess}"? (${allowed})`;
}

/**
 * Zod issues → problems in file terms: JSON path, offending value, what is allowed. Duplicates
 * merged; at most {@link MAX_LISTED_PROBLEMS} are described, the others only counted.
 */
function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
): { described: { problem: ConfigProblem; line: string }[]; unlisted: number } {
  const described: { problem: ConfigProblem; line: string }[] = [];
  const seen = new Set<string>();
  let unlisted = 0;
  const add = (path: readonly PathSegment[], rawMessage: string, fallback?: { value: unknown }) => {
    const message = clip(redact(rawMessage), MAX_MESSAGE_LENGTH);
    const pathText = jsonPath(path);
    const key = `${pathText}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (described.length === MAX_LISTED_PROBLEMS) {
      unlisted++;
      return;
    }
    const at = valueAt(raw, path);
    const isBaseUrl = path.length === 2 && path[0] === "atlas" && path[1] === "baseUrl";
    const value = safeValue(at.found ? at.value : fallback?.value, isBaseUrl);
    let line: string;
    if (at.found) line = `${pathText} = ${showValue(value)}: ${message}`;
    else if (fallback) line = `${pathText} = ${showValue(value)} (default): ${message}`;
    else line = `${pathText}: missing; ${message}`;
    const problem: ConfigProblem =
      at.found || fallback ? { path: pathText, value, message } : { path: pathText, message };
    described.push({ problem, line });
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      // Each key of one object is distinct: the keys past the limit are only counted.
      const room = Math.max(0, MAX_LISTED_PROBLEMS - described.length);
      const known = knownKeys(issue.path);
      for (const key of issue.keys.slice(0, room)) add([...issue.path, key], unknownKeyMessage(key, known));
      unlisted += Math.max(0, issue.keys.length - room);
      continue;
    }
    const params = issue.code === "custom" ? (issue.params as { value?: unknown } | undefined) : undefined;
    add(issue.path, issue.message, params && "value" in params ? { value: params.value } : undefined);
  }
  return { described, unlisted };
}
