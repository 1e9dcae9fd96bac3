/** Turns the parameter file's text into an {@link ArchiverConfig}, or one error listing every problem. */
import { z } from "zod";
import { ConfigError, type ConfigProblem } from "./error";
import { configSchema } from "./schema";
import type { ArchiverConfig } from "./types";

const MAX_VALUE_LENGTH = 80;

/**
 * How deep arrays and objects may nest in the parameter file. The file itself needs 3 levels (the
 * file's object, `workspaces`, a workspace); anything much deeper is not a parameter file, and is
 * refused before validation, whose code (and zod's) recurses once per level.
 */
export const MAX_NESTING = 32;

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
  const raw = parseJson(text, source);
  const tooDeep = nestingProblem(raw);
  if (tooDeep) {
    const path = jsonPath(tooDeep);
    const message =
      `nests arrays and objects deeper than ${MAX_NESTING} levels (the parameter file needs 3: the file, ` +
      `"workspaces" and a workspace); remove the extra nesting`;
    throw new ConfigError("CONFIG_INVALID", `${source} has 1 problem:\n  - ${path}: ${message}`, {
      file: source,
      problems: [{ path, message }],
    });
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = describeIssues(result.error.issues, raw);
    const lines = problems.map((p) => `  - ${p.line}`).join("\n");
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw new ConfigError("CONFIG_INVALID", `${source} has ${count}:\n${lines}`, {
      file: source,
      problems: problems.map((p) => p.problem),
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
    const reason = `${cleanJsonMessage(detail)}${jsonHint(body, at.position)}`;
    throw new ConfigError(
      "CONFIG_MALFORMED_JSON",
      `${source} is not valid JSON at line ${at.line}, column ${at.column}: ${reason}\n${excerpt(body, at)}`,
      {
        file: source,
        cause: error,
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

/** Where a JSON syntax error is: 0-based offset, 1-based line and column. */
export interface JsonErrorLocation {
  readonly position: number;
  readonly line: number;
  readonly column: number;
}

/**
 * Locates a `JSON.parse` error in `text` from its message: Node 22 says "(line L column C)", Node 20
 * "at position N"; some messages ("Unexpected token 'x', ... is not valid JSON") give neither, and
 * then the text is scanned for the first offending character.
 */
export function locateJsonError(message: string, text: string): JsonErrorLocation {
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
  const offset = /at position (\d+)/.exec(message);
  let position: number;
  if (offset?.[1]) position = Number(offset[1]);
  else if (/Unexpected end of JSON input/.test(message)) position = text.trimEnd().length;
  else position = jsonSyntaxErrorOffset(text) ?? text.length;
  position = Math.min(position, text.length);
  if (lineColumn?.[1] && lineColumn[2]) {
    return { position, line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  }
  const before = text.slice(0, position);
  return { position, line: before.split("\n").length, column: position - (before.lastIndexOf("\n") + 1) + 1 };
}

/** Thrown inside {@link jsonSyntaxErrorOffset} to unwind to the first error. */
class SyntaxAt {
  constructor(readonly offset: number) {}
}

/**
 * The offset of the first character that makes `text` invalid JSON (`text.length` when it ends
 * too early), or `undefined` when `text` is valid.
 */
export function jsonSyntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(Math.min(i, text.length));
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const expect = (c: string) => {
    if (text[i] !== c) fail();
    i++;
  };
  const digits = () => {
    if (!isDigit(text[i])) fail();
    while (isDigit(text[i])) i++;
  };
  const string = () => {
    expect('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") fail();
      i++;
      if (c === '"') return;
      if (c !== "\\") continue;
      const e = text[i];
      if (e === "u") {
        i++;
        for (let k = 0; k < 4; k++) {
          if (!/[0-9a-fA-F]/.test(text.charAt(i))) fail();
          i++;
        }
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else fail();
    }
  };
  const key = () => {
    space();
    string();
    space();
    expect(":");
  };
  const scalar = (c: string | undefined) => {
    if (c === '"') {
      string();
      return;
    }
    if (c === "-" || isDigit(c)) {
      if (c === "-") i++;
      if (text[i] === "0") i++;
      else digits();
      if (text[i] === ".") {
        i++;
        digits();
      }
      if (text[i] === "e" || text[i] === "E") {
        i++;
        if (text[i] === "+" || text[i] === "-") i++;
        digits();
      }
      return;
    }
    const literal = ["true", "false", "null"].find((l) => l[0] === c);
    if (literal === undefined) fail();
    for (const ch of literal ?? "") expect(ch);
  };
  // Iterative, with the open containers' closing characters on a stack: any depth fits.
  const value = (): void => {
    const closers: string[] = [];
    for (;;) {
      // A value begins here.
      space();
      const c = text[i];
      if (c === "{" || c === "[") {
        const close = c === "{" ? "}" : "]";
        i++;
        space();
        if (text[i] === close) i++;
        else {
          closers.push(close);
          if (close === "}") key();
          continue;
        }
      } else scalar(c);
      // A value ended here: close containers, or go on to the next element.
      for (;;) {
        const close = closers.at(-1);
        if (close === undefined) return;
        space();
        if (text[i] !== close) break;
        i++;
        closers.pop();
      }
      expect(",");
      if (closers.at(-1) === "}") key();
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof SyntaxAt) return error.offset;
    throw error;
  }
}

/** V8's message without its position (reported separately) or its echo of the input. */
function cleanJsonMessage(message: string): string {
  return message
    .replace(/ in JSON at position \d+(?: \(line \d+ column \d+\))?/, "")
    .replace(/^(Unexpected token '.*?'),[\s\S]*is not valid JSON$/, "$1");
}

function jsonHint(text: string, position: number): string {
  const c = text[position];
  if (c === "/" && (text[position + 1] === "/" || text[position + 1] === "*")) {
    return " (JSON has no comments: remove them; config/workspaces.schema.json documents every field)";
  }
  if ((c === "}" || c === "]") && text.slice(0, position).trimEnd().endsWith(",")) {
    return " (remove the trailing comma before it)";
  }
  if (c === "'") return " (JSON strings need double quotes)";
  return "";
}

/** The offending line with a caret under the column. */
function excerpt(text: string, at: JsonErrorLocation): string {
  const line = (text.split("\n")[at.line - 1] ?? "").replace(/\r$/, "").replace(/\t/g, " ");
  const start = Math.max(0, at.column - 1 - 60);
  const shown = line.slice(start, start + 100);
  const gutter = String(at.line);
  return `  ${gutter} | ${shown}\n  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, at.column - 1 - start))}^`;
}

// ---------------------------------------------------------------------------------------------
// Nesting

/**
 * The path of the first array or object (in document order) nested more than {@link MAX_NESTING}
 * levels deep, if any. Iterative, with at most MAX_NESTING frames: any input fits.
 */
function nestingProblem(raw: unknown): PathSegment[] | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  interface Frame {
    readonly value: object;
    /** The object's keys; `undefined` for an array. */
    readonly keys: readonly string[] | undefined;
    readonly length: number;
    next: number;
    /** How this container is reached from its parent. */
    readonly segment: PathSegment;
  }
  const frame = (value: object, segment: PathSegment): Frame => {
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    return { value, keys, length: keys ? keys.length : (value as unknown[]).length, next: 0, segment };
  };
  const stack: Frame[] = [frame(raw, "")];
  for (;;) {
    const top = stack.at(-1);
    if (top === undefined) return undefined;
    if (top.next >= top.length) {
      stack.pop();
      continue;
    }
    const index = top.next++;
    const segment = top.keys ? (top.keys[index] as string) : index;
    const child = (top.value as Record<PropertyKey, unknown>)[segment];
    if (typeof child !== "object" || child === null) continue;
    if (stack.length >= MAX_NESTING) return [...stack.slice(1).map((f) => f.segment), segment];
    stack.push(frame(child, segment));
  }
}

// ---------------------------------------------------------------------------------------------
// Rule violations

type PathSegment = PropertyKey;

/** `$.workspaces[1].groupId` */
function jsonPath(path: readonly PathSegment[]): string {
  return path
    .map((segment) => {
      if (typeof segment === "number") return `[${segment}]`;
      const key = String(segment);
      return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    })
    .reduce((acc, part) => acc + part, "$");
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

/** Hides the credentials of any URL inside a string. */
function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s"]*@/gi, "$1***@");
}

function showValue(value: unknown): string {
  const json = redact(JSON.stringify(value) ?? String(value));
  return json.length > MAX_VALUE_LENGTH ? `${json.slice(0, MAX_VALUE_LENGTH - 3)}...` : json;
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

/** The known key `key` most likely is a typo of, if any. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    const distance = editDistance(lower, other);
    const near =
      distance <= Math.max(1, Math.floor(Math.max(key.length, candidate.length) / 3)) ||
      (lower.length >= 4 && (other.startsWith(lower) || lower.startsWith(other)));
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

/** Zod issues → problems in file terms: JSON path, offending value, what is allowed. Duplicates merged. */
function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
): { problem: ConfigProblem; line: string }[] {
  const described: { problem: ConfigProblem; line: string }[] = [];
  const seen = new Set<string>();
  const add = (path: readonly PathSegment[], message: string, fallback?: { value: unknown }) => {
    const at = valueAt(raw, path);
    const pathText = jsonPath(path);
    const key = `${pathText}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const shown = at.found ? at.value : fallback?.value;
    const value = typeof shown === "string" ? redact(shown) : shown;
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
      const known = knownKeys(issue.path);
      for (const key of issue.keys) add([...issue.path, key], unknownKeyMessage(key, known));
      continue;
    }
    const params = issue.code === "custom" ? (issue.params as { value?: unknown } | undefined) : undefined;
    add(issue.path, issue.message, params && "value" in params ? { value: params.value } : undefined);
  }
  return described;
}

/** Freezes `value` and everything in it (iteratively). */
function deepFreeze<T>(value: unknown): T {
  const pending = [value];
  for (let next = pending.pop(); next !== undefined || pending.length > 0; next = pending.pop()) {
    if (typeof next === "object" && next !== null && !Object.isFrozen(next)) {
      Object.freeze(next);
      for (const child of Object.values(next)) pending.push(child);
    }
  }
  return value as T;
}
