/** `atlas-audit-archiver ls`: the archived windows of a group (or tenant), their size, and the gaps. */
import { listWindows } from "../../../lambda/reader/ls";
import { JSON_OPTION, type OptionValues, required, stringOptions } from "../command";
import { formatListReport } from "../format/ls";
import { jsonRow, NOW_ROW, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { ARCHIVE_OPTIONS, hasRange, openArchive, readerHelp, readRange } from "../target";

export const summary = "List the archived windows of a group (or tenant) with their size, and the gaps.";

export const options = {
  ...stringOptions("group", "tenant", "from", "to", "now"),
  ...JSON_OPTION,
  ...ARCHIVE_OPTIONS,
};

export const help = readerHelp({
  usage: "ls --group G [--tenant T] [--from DATE] [--to DATE] [--now INSTANT] [--json]",
  summary,
  options: [
    ["--group G", "The Atlas project id whose windows to list"],
    ["--tenant T", "Only this Stream Processing workspace (default: every one of the group)"],
    ["--from, --to", `${RANGE_TEXT} (default: the lookback of the parameter file before --now)`],
    NOW_ROW,
    jsonRow("the report"),
  ],
  exitStatus: "0 when no due window in the range is missing, 1 when one is (a gap)",
});

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  return openArchive(values, io, async (archive) => {
    const groupId = required(values.group, "group", "G", "ls");
    const { target, s3, nowMs } = archive;
    const report = await listWindows({
      s3,
      location: target,
      groupId,
      ...(values.tenant === undefined ? {} : { tenantName: values.tenant }),
      ...(hasRange(values) ? { range: readRange(values, archive, false) } : {}),
      nowMs,
      window: target.window,
      expected: target.workspaces,
    });
    io.stdout.write(`${values.json ? JSON.stringify(report) : formatListReport(report)}\n`);
    return report.ok ? 0 : 1;
  });
}
