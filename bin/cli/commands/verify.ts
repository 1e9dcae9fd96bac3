/** `atlas-audit-archiver verify`: re-reads archived objects and checks them. */
import { verifyArchive } from "../../../lambda/reader/verify";
import { JSON_OPTION, type OptionValues, stringOptions } from "../command";
import { formatVerifyReport } from "../format/verify";
import { jsonRow, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { ARCHIVE_OPTIONS, hasRange, openArchive, readerHelp, readRange } from "../target";

export const summary = "Re-read archived objects and check their gzip integrity and checksum metadata.";

export const options = { ...stringOptions("group", "from", "to"), ...JSON_OPTION, ...ARCHIVE_OPTIONS };

export const help = readerHelp({
  usage: "verify [--group G] [--from DATE --to DATE] [--json]",
  summary,
  options: [
    ["--group G", "Only this Atlas project (default: the whole archive)"],
    ["--from, --to", `${RANGE_TEXT} (both together; default: every object)`],
    jsonRow("the report"),
  ],
  exitStatus: "0 when every object read is intact, 1 when one is bad",
});

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  return openArchive(values, io, async (archive) => {
    const report = await verifyArchive({
      s3: archive.s3,
      location: archive.target,
      ...(values.group === undefined ? {} : { groupId: values.group }),
      ...(hasRange(values) ? { range: readRange(values, archive, true) } : {}),
    });
    io.stdout.write(`${values.json ? JSON.stringify(report) : formatVerifyReport(report)}\n`);
    return report.ok ? 0 : 1;
  });
}
