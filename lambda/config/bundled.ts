/**
 * The parameter file as `cdk synth` bundles it into the function: the configuration the schema
 * validated and completed with its defaults, inside an envelope that names its format. The handler
 * reads it back without the schema, so the validator (zod) stays out of the function's bundle, and
 * the schema stays the one place where defaults are resolved.
 */
import { BUNDLED_CONFIG_FILE, HANDLER_ENVIRONMENT } from "./contract";
import { ConfigError, type ConfigProblem } from "./error";
import { deepFreeze } from "./freeze";
import type { ArchiverConfig } from "./types";

/** The envelope's `format`: says the file was written by {@link renderBundledConfig}. */
export const BUNDLED_CONFIG_FORMAT = "atlas-audit-archiver/bundled-config";

/** Version of the envelope and of the {@link ArchiverConfig} shape in it; raise it when either changes. */
export const BUNDLED_CONFIG_VERSION = 1;

/**
 * The bundled file's text for a configuration returned by `parseConfig` or `loadConfig`.
 *
 * @example
 * ```ts
 * writeFileSync(BUNDLED_CONFIG_FILE, renderBundledConfig(await loadConfig(DEFAULT_CONFIG_PATH)));
 * ```
 */
export function renderBundledConfig(config: ArchiverConfig): string {
  const envelope = { format: BUNDLED_CONFIG_FORMAT, version: BUNDLED_CONFIG_VERSION, config };
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/**
 * Reads back what {@link renderBundledConfig} wrote. The values' rules were checked when the file
 * was written and are not checked again; the envelope and the type of every field the runtime
 * reads are, so that a hand-written parameter file or a file from another version is refused
 * rather than run without its defaults.
 *
 * @param source the file name, used in messages
 * @throws {ConfigError} `CONFIG_MALFORMED_JSON` (not JSON), `CONFIG_INVALID` (not a bundled
 *   configuration of this version, or damaged)
 * @example
 * ```ts
 * const config = parseBundledConfig(readFileSync(file, "utf8"), file);
 * ```
 */
export function parseBundledConfig(text: string, source: string): ArchiverConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      "CONFIG_MALFORMED_JSON",
      `${source} is not valid JSON (${error instanceof Error ? error.message : String(error)}); ` +
        `it is written by cdk synth: redeploy with cdk deploy.`,
      { file: source, cause: error, problems: [{ path: "$", message: "not valid JSON" }] },
    );
  }
  const envelope = isObject(data) ? data : {};
  if (envelope.format !== BUNDLED_CONFIG_FORMAT) {
    throw invalid(
      source,
      problem("$.format", envelope.format, `must be "${BUNDLED_CONFIG_FORMAT}"`),
      "is not a configuration bundled by cdk synth (a parameter file is validated and bundled by cdk synth; " +
        "the function reads only that result): redeploy with cdk deploy, or point " +
        `${HANDLER_ENVIRONMENT.configFile} at the bundled ${BUNDLED_CONFIG_FILE}`,
    );
  }
  if (envelope.version !== BUNDLED_CONFIG_VERSION) {
    throw invalid(
      source,
      problem("$.version", envelope.version, `must be ${BUNDLED_CONFIG_VERSION}`),
      `was bundled by another version of atlas-audit-archiver (this handler reads format version ` +
        `${BUNDLED_CONFIG_VERSION}): redeploy with cdk deploy, so that the file and the handler come from the same build`,
    );
  }
  const problems = shapeProblems(envelope.config);
  if (problems.length > 0) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `${source} is damaged: ${problems.map(describe).join("; ")}; redeploy with cdk deploy.`,
      { file: source, problems },
    );
  }
  return deepFreeze<ArchiverConfig>(envelope.config);
}

function invalid(source: string, found: ConfigProblem, what: string): ConfigError {
  return new ConfigError("CONFIG_INVALID", `${source} ${what} (${describe(found)}).`, {
    file: source,
    problems: [found],
  });
}

/** `$.path = value: message`, or `$.path: missing; message`. */
function describe(p: ConfigProblem): string {
  return "value" in p
    ? `${p.path} = ${JSON.stringify(p.value)}: ${p.message}`
    : `${p.path}: missing; ${p.message}`;
}

/** A problem; `value` is left out when the key is missing. */
function problem(path: string, value: unknown, message: string): ConfigProblem {
  return value === undefined ? { path, message } : { path, value, message };
}

/** A field's type test, and what it says when the test fails. */
interface Check {
  readonly ok: (value: unknown) => boolean;
  readonly expected: string;
}
const aString: Check = { ok: (v) => typeof v === "string", expected: "must be a string" };
const aStringOrAbsent: Check = {
  ok: (v) => v === undefined || typeof v === "string",
  expected: "must be a string or absent",
};
const aWholeNumber: Check = {
  ok: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  expected: "must be a whole number",
};

/** The fields the runtime reads, and the type each must have. */
const FIELDS: Readonly<Record<string, Readonly<Record<string, Check>>>> = {
  atlas: { baseUrl: aString, apiVersion: aString },
  archive: { bucket: aStringOrAbsent, prefix: aString },
  window: { minutes: aWholeNumber, lagMinutes: aWholeNumber, lookbackHours: aWholeNumber },
};
const WORKSPACE: Readonly<Record<string, Check>> = {
  groupId: aString,
  tenantName: aString,
  spName: aStringOrAbsent,
};

function shapeProblems(config: unknown): ConfigProblem[] {
  if (!isObject(config)) return [problem("$.config", config, "must be an object")];
  const problems: ConfigProblem[] = [];
  const check = (object: unknown, path: string, fields: Readonly<Record<string, Check>>) => {
    if (!isObject(object)) {
      problems.push(problem(path, object, "must be an object"));
      return;
    }
    for (const [name, { ok, expected }] of Object.entries(fields)) {
      if (!ok(object[name])) problems.push(problem(`${path}.${name}`, object[name], expected));
    }
  };
  for (const [name, fields] of Object.entries(FIELDS)) check(config[name], `$.config.${name}`, fields);
  check(config, "$.config", { schedule: aString });
  const workspaces = config.workspaces;
  if (!Array.isArray(workspaces) || workspaces.length === 0) {
    problems.push(problem("$.config.workspaces", workspaces, "must be a non-empty array"));
  } else {
    for (const [i, w] of workspaces.entries()) check(w, `$.config.workspaces[${i}]`, WORKSPACE);
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
