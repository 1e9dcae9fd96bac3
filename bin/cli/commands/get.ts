/** `atlas-audit-archiver get`: downloads archived objects to a directory (resumable), keeping the key layout. */

import { ReaderError } from "../../../lambda/reader/errors";
import { checkOutputDirectory, getObjects } from "../../../lambda/reader/get";
import { listArchive } from "../../../lambda/reader/listing";
import { flagName, JSON_OPTION, type OptionValues, required, stringOptions } from "../command";
import { formatGetReport, formatProgress } from "../format/get";
import { jsonRow, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { ARCHIVE_OPTIONS, openArchive, readerHelp, readRange } from "../target";

export const summary = "Download archived objects to a directory (resumable), keeping the key layout.";

export const options = {
  ...stringOptions("group", "tenant", "from", "to", "out"),
  ...JSON_OPTION,
  ...ARCHIVE_OPTIONS,
};

export const help = readerHelp({
  usage: "get --group G [--tenant T] --from DATE --to DATE --out DIR [--json]",
  summary,
  options: [
    ["--group G", "The Atlas project id"],
    ["--tenant T", "Only this Stream Processing workspace (default: every one of the group)"],
    ["--from, --to", RANGE_TEXT],
    [
      "--out DIR",
      "Where to write (DIR/group=.../tenant=.../date=.../file); files already there with the object's size and CRC32 are kept",
    ],
    jsonRow("the report"),
  ],
  exitStatus: "0 when every object is there, 1 when one could not be fetched",
});

/** How often the progress line is redrawn at most. */
const REDRAW_MS = 100;

/**
 * Makes sure `--out` can receive downloads, before anything is listed or downloaded.
 *
 * @throws {ReaderError} `READER_OUTPUT_UNWRITABLE` naming the directory and the system's reason
 */
async function prepareOut(outDir: string): Promise<void> {
  const problem = await checkOutputDirectory(outDir);
  if (problem) {
    throw new ReaderError(
      "READER_OUTPUT_UNWRITABLE",
      `The output directory ${outDir} ${problem.what} (${problem.reason}): give ${flagName("out")} a directory ` +
        "this user can create and write.",
      { file: outDir, cause: problem.cause },
    );
  }
}

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  return openArchive(values, io, async (archive) => {
    const groupId = required(values.group, "group", "G", "get");
    const outDir = required(values.out, "out", "DIR", "get");
    const range = readRange(values, archive, true);
    await prepareOut(outDir);
    const { s3, target } = archive;
    const { objects } = await listArchive(s3, target, {
      groupId,
      ...(values.tenant === undefined ? {} : { tenantName: values.tenant }),
      range,
    });
    // One updating line on a terminal; nothing when stderr is a file or a pipe.
    const tty = io.stderr.isTTY === true;
    let drawnAt = Number.NEGATIVE_INFINITY;
    const report = await getObjects({
      s3,
      location: target,
      objects,
      outDir,
      onProgress: (p) => {
        const now = io.now();
        if (!tty || (now - drawnAt < REDRAW_MS && p.files < p.totalFiles)) return;
        drawnAt = now;
        io.stderr.write(`\r${formatProgress(p)}\x1b[K`);
      },
    });
    if (tty) io.stderr.write("\n");
    io.stderr.write(`${formatGetReport(report, outDir)}\n`);
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    return report.ok ? 0 : 1;
  });
}
