/** `doctor`'s text output: one line per check (its fix on the next), and a closing count. */
import type { CheckStatus, DoctorCheck, DoctorReport } from "../../../lambda/doctor";

/** How each verdict reads at the start of its line. */
const MARKS: Readonly<Record<CheckStatus, string>> = { ok: "ok  ", warn: "note", fail: "FAIL", skip: "skip" };

/**
 * One check as text: `ok   subject: detail`, and for a failure or a note with a fix, the fix
 * indented below it.
 *
 * @example
 * ```ts
 * formatCheck({ id: "bucket", subject: "bucket b", status: "fail", detail: "bucket b does not exist (NoSuchBucket)", fix: "create the bucket", ms: 3 });
 * // "FAIL bucket b: bucket b does not exist (NoSuchBucket)\n     fix: create the bucket"
 * ```
 */
export function formatCheck(check: DoctorCheck): string {
  // A multi-line message (a parameter file's problems) stays on the check's line.
  const detail = check.detail.replace(/\s*\n\s*/g, " ");
  const line = `${MARKS[check.status]} ${check.subject}: ${detail}`;
  return check.fix && check.status !== "ok" ? `${line}\n     fix: ${check.fix}` : line;
}

/** The closing line: how many checks passed, were notes, failed and were skipped. */
export function formatDoctorSummary(report: DoctorReport): string {
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const verdict = report.ok ? "no check failed" : `${count("fail")} check(s) failed`;
  return (
    `doctor: ${verdict} (${report.checks.length} checks: ${count("ok")} ok, ${count("warn")} notes, ` +
    `${count("fail")} failed, ${count("skip")} skipped)`
  );
}
