/**
 * `atlas-audit-archiver report`: runs `verify` (the same options, the same checks) and writes its
 * result as a coverage report to look at: one self-contained HTML page, or the report's model as
 * JSON with `--json`.
 */
import { writeFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { ReaderError } from "../../../lambda/reader/errors";
import { type CoverageReport, coverageReport } from "../../../lambda/reader/report";
import type { VerifyReport } from "../../../lambda/reader/verify";
import { type OptionValues, stringOptions, usageError } from "../command";
import { renderReportHtml } from "../format/report-html";
import { RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { readerHelp } from "../target";
import * as verify from "./verify";

export const summary =
  "Write a coverage report (HTML, or JSON) of what verify proves, per workspace and day.";

export const options = { ...verify.options, ...stringOptions("out") };

export const help = readerHelp({
  usage: "report --group G --from DATE --to DATE --out FILE [--public-key FILE | --digest-key ARN] [--json]",
  summary: [
    summary,
    "",
    "Runs the same verification as verify, then writes one self-contained HTML file (no script, nothing",
    "fetched when viewed, prints well): the archive, range, signature mode, counts and the command that",
    "reproduces it; per workspace its chain's status and a calendar of days coloured and marked",
    "archived and verified, empty, missing, failed verification, pending or unsealed (each day's date,",
    "state and counts on hover), and the windows of every day that is not all verified.",
  ].join("\n"),
  options: [
    ["--group G", "Only this Atlas project (default: the whole archive)"],
    ["--from, --to", `${RANGE_TEXT} (both together; default: every object)`],
    ["--out FILE", "Write the report to this file (required for HTML; with --json, default stdout)"],
    ["--public-key FILE", "Check the digests' signatures offline with this PEM public key"],
    ["--digest-key ARN", "Check them through KMS (kms:Verify) with this key"],
    ["--json", "Write the report's data (per workspace, day and window) as JSON instead of HTML"],
  ],
  exitStatus:
    "as verify: 0 when everything of the range is sealed and verified (a day not due yet excepted); " +
    "1 on any problem (the report is still written)",
});

/** Keeps what verify prints (its JSON report). */
class CapturingOutput extends Writable {
  text = "";

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += String(chunk);
    callback();
  }
}

/** `'a b'` for a POSIX shell, bare when it needs no quoting. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The command line that makes this report again. */
export function reproduceCommand(values: OptionValues<typeof options>): string {
  const args: string[] = ["atlas-audit-archiver", "report"];
  for (const name of [
    "config",
    "bucket",
    "prefix",
    "group",
    "from",
    "to",
    "public-key",
    "digest-key",
    "out",
  ] as const) {
    const value = values[name];
    if (value !== undefined) args.push(`--${name}`, value);
  }
  if (values.json) args.push("--json");
  return args.map(shellQuote).join(" ");
}

async function writeOut(file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text);
  } catch (err) {
    throw new ReaderError("READER_OUTPUT_UNWRITABLE", `Cannot write ${file}: ${(err as Error).message}.`, {
      file,
      cause: err,
    });
  }
}

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const { out, ...verifyValues } = values;
  if (out === undefined && !values.json) {
    throw usageError(
      "out",
      (n) => `report needs ${n("out")} FILE for its HTML (or ${n("json")} for its data on stdout).`,
    );
  }
  // verify itself, with its options, key handling and exit status; its JSON report captured.
  const captured = new CapturingOutput();
  const status = await verify.run({ ...verifyValues, json: true }, { ...io, stdout: captured });
  const verified = JSON.parse(captured.text) as VerifyReport;
  const model: CoverageReport = coverageReport(verified, {
    generatedAtMs: io.now(),
    command: reproduceCommand(values),
    ...(values.group === undefined ? {} : { group: values.group }),
  });
  const text = values.json ? `${JSON.stringify(model, null, 2)}\n` : renderReportHtml(model);
  if (out === undefined) {
    io.stdout.write(text);
  } else {
    await writeOut(out, text);
    io.stderr.write(
      `Wrote the coverage report of s3://${model.bucket}/${model.prefix} to ${out}: ` +
        `${model.ok ? "OK" : `FAILED, ${model.problems} problem(s)`}.\n`,
    );
  }
  return status;
}
