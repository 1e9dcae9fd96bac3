/** `verify`'s report for people. */
import type { VerifyReport } from "../../../lambda/reader/verify";

/** The report for people: one line per bad object, then the verdict. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = report.bad.map((b) => `BAD ${b.key}: ${b.problem}: ${b.reason}`);
  lines.push(
    report.ok
      ? `OK: ${report.checked} object(s) in s3://${report.bucket}/${report.prefix} verified.`
      : `FAILED: ${report.bad.length} bad object(s) in s3://${report.bucket}/${report.prefix} ` +
          `(${report.checked} archived object(s) read).`,
  );
  return lines.join("\n");
}
