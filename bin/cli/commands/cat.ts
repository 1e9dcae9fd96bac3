/** `atlas-audit-archiver cat`: the decompressed log lines of one workspace over a range, in time order. */
import { catLogs } from "../../../lambda/reader/cat";
import { type OptionValues, required, stringOptions } from "../command";
import { RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { ARCHIVE_OPTIONS, openArchive, readerHelp, readRange } from "../target";

export const summary = "Print the decompressed log lines of one workspace over a range, in time order.";

export const options = { ...stringOptions("group", "tenant", "sp", "from", "to"), ...ARCHIVE_OPTIONS };

export const help = readerHelp({
  usage: "cat --group G --tenant T [--sp NAME] --from DATE --to DATE",
  summary,
  options: [
    ["--group G", "The Atlas project id"],
    ["--tenant T", "The Stream Processing workspace"],
    ["--sp NAME", "This stream processor's log (default: the whole workspace's log)"],
    ["--from, --to", RANGE_TEXT],
  ],
  exitStatus:
    "0 when the lines were printed (or the reader of a pipe went away), 1 when an object could not be read",
});

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  return openArchive(values, io, async (archive) => {
    const groupId = required(values.group, "group", "G", "cat");
    const tenantName = required(values.tenant, "tenant", "T", "cat");
    const range = readRange(values, archive, true);
    // A reader that goes away (`| head`) makes stdout fail with EPIPE; that ends the output quietly.
    io.stdout.on("error", () => {});
    const result = await catLogs({
      s3: archive.s3,
      location: archive.target,
      groupId,
      tenantName,
      ...(values.sp === undefined ? {} : { spName: values.sp }),
      range,
      out: io.stdout,
    });
    if (result.objects === 0 && !result.closed) {
      io.stderr.write(`No archived window of ${groupId}/${tenantName} in this range.\n`);
    }
    return 0;
  });
}
