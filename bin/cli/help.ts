/**
 * Help texts: each command's help is built from its usage line, its option rows and its exit
 * statuses, with the rows several commands share written once here.
 */

/** One row of a help section: the flags (or variable) and what it does (wrapped to fit). */
export type HelpRow = readonly [name: string, text: string];

/** What a command's help says. */
export interface HelpSpec {
  /** The command and its options, e.g. `ls --group G [--tenant T]`. */
  readonly usage: string;
  /** What the command does, in one sentence (also its line in the command list). */
  readonly summary: string;
  /** The words the command takes besides its options, if any. */
  readonly arguments?: readonly HelpRow[];
  readonly options: readonly HelpRow[];
  /** The variables it reads; none: no Environment section. */
  readonly environment: readonly HelpRow[];
  /** The exit statuses, as a sentence. */
  readonly exitStatus: string;
}

/** The widest line of a help text. */
const WIDTH = 100;
/** The column where the text of a row starts, unless a name is longer. */
const COLUMN = 21;

/** `words` in lines of at most `width` characters (a longer word stands alone). */
function wrapWords(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return line ? [...lines, line] : lines;
}

/** `text` in lines of at most `width` characters, broken between words. */
function wrap(text: string, width: number): string[] {
  return wrapWords(text.split(/\s+/).filter(Boolean), width);
}

/** The usage line, broken between options (never inside `[...]`), continued under the command. */
function usageLines(usage: string): string {
  const lead = "Usage: atlas-audit-archiver ";
  const [command = "", ...rest] = usage.match(/\[[^\]]*\]|\S+/g) ?? [];
  const indent = " ".repeat(lead.length + command.length + 1);
  return wrapWords(rest, WIDTH - indent.length)
    .map((line, i) => (i === 0 ? `${lead}${command} ${line}` : `${indent}${line}`))
    .join("\n");
}

function section(title: string, rows: readonly HelpRow[]): string {
  const column = Math.max(COLUMN, ...rows.map(([name]) => name.length + 4));
  const lines = rows.flatMap(([name, text]) =>
    wrap(text, WIDTH - column).map((line, i) => `${`  ${i === 0 ? name : ""}`.padEnd(column)}${line}`),
  );
  return `${title}:\n${lines.join("\n")}`;
}

/** The help of one command, `-h, --help` included. */
export function formatHelp(spec: HelpSpec): string {
  return [
    usageLines(spec.usage),
    spec.summary,
    ...(spec.arguments?.length ? [section("Arguments", spec.arguments)] : []),
    section("Options", [...spec.options, ["-h, --help", "Show this help"]]),
    ...(spec.environment.length > 0 ? [section("Environment", spec.environment)] : []),
    wrap(`Exit status: ${spec.exitStatus}`, WIDTH).join("\n"),
  ].join("\n\n");
}

/** `--now`, as `run` and `ls` take it. */
export const NOW_ROW: HelpRow = [
  "--now INSTANT",
  "Treat this instant as now (default: the current time): ISO 8601 with its zone, " +
    "e.g. 2026-11-28T13:00:00Z or 2026-11-28T14:00:00+01:00",
];

/** The date grammar of `--from` and `--to`, the same for every command. */
export const RANGE_TEXT =
  "YYYY-MM-DD (whole UTC days, --to included) or ISO 8601 instants with a zone (--to excluded), " +
  "years 1970 through 9999; every window overlapping the range is read";

/** `--json`, with what it prints. */
export function jsonRow(what: string): HelpRow {
  return ["--json", `Print ${what} as one JSON object on stdout`];
}

/** The AWS SDK's variables, which every command reads. */
export const AWS_ROWS: readonly HelpRow[] = [
  ["AWS_REGION, AWS_PROFILE, ...", "the AWS SDK's usual configuration"],
  ["AWS_ENDPOINT_URL_S3", "an S3-compatible endpoint (path-style addressing)"],
];

/** The environment of a command that talks to Atlas and the archive: credentials, overrides, the digest key. */
export const ATLAS_ROWS: readonly HelpRow[] = [
  ["ATLAS_CLIENT_ID + ATLAS_CLIENT_SECRET", "service account credentials (recommended), or"],
  ["ATLAS_PUBLIC_KEY + ATLAS_PRIVATE_KEY", "API key credentials (HTTP Digest)"],
  ["ATLAS_BASE_URL", "overrides atlas.baseUrl of the parameter file"],
  ["ARCHIVE_BUCKET", "overrides archive.bucket of the parameter file"],
  ["DIGEST_KEY_ARN", "the KMS key that signs the digests, unless --digest-key is given"],
];

/** The statuses every command shares, after its own: `0 when ..., 1 when ...`. */
export function exitStatus(own: string): string {
  return `${own}, 2 on a usage or configuration error, a missing bucket or denied access.`;
}

/** One row of the Options section of a help text, read back by {@link helpOptions}. */
export interface HelpOption {
  /** The flags of the row, e.g. `["--from", "--to"]` or `["-h", "--help"]`. */
  readonly flags: readonly string[];
  /** The word for the value, e.g. `FILE` for `--config FILE`; absent for a flag without one. */
  readonly value?: string;
  /** What the row says, its lines joined. */
  readonly text: string;
}

/**
 * The option rows of a help text that {@link formatHelp} wrote, read back (shell completion takes
 * the options' descriptions and the words for their values from them).
 *
 * @example
 * ```ts
 * helpOptions(ls.help)[0]; // { flags: ["--group"], value: "G", text: "The Atlas project id whose windows to list" }
 * ```
 */
export function helpOptions(help: string): HelpOption[] {
  const lines = help.split("\n");
  const start = lines.indexOf("Options:");
  if (start < 0) return [];
  const rows: { name: string; text: string[] }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("  ")) break;
    const [name = "", text = ""] = line.slice(2).split(/ {2,}/, 2);
    if (name !== "") rows.push({ name, text: [text] });
    else rows.at(-1)?.text.push(line.trim());
  }
  return rows.map(({ name, text }) => {
    const parts = name.split(", ");
    const value = parts.map((p) => p.split(" ")[1]).find((v) => v !== undefined);
    return {
      flags: parts.map((p) => p.split(" ")[0] as string),
      ...(value === undefined ? {} : { value }),
      text: text.join(" ").trim(),
    };
  });
}
