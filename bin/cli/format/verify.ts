/** `verify`'s report for people. */
import type { VerifyReport } from "../../../lambda/reader/verify";

/** Consecutive dates as `first..last (n days)`, or one date. */
function runs(dates: readonly string[]): string[] {
  const out: string[] = [];
  let start: string | undefined;
  let prev: string | undefined;
  let count = 0;
  const flush = () => {
    if (start === undefined) return;
    out.push(count === 1 ? start : `${start}..${prev} (${count} days)`);
  };
  for (const date of dates) {
    const next = prev && new Date(Date.parse(`${prev}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    if (start !== undefined && date === next) {
      prev = date;
      count++;
    } else {
      flush();
      start = date;
      prev = date;
      count = 1;
    }
  }
  flush();
  return out;
}

const SIGNED_WITH = { "public-key": "with the public key", kms: "through KMS", none: "" } as const;

/**
 * The report for people: one `BAD key: CODE: reason` line per problem; without digests, which days
 * are unsealed (a note, not a problem); the days not sealed yet; then the verdict.
 */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = report.bad.map((b) => `BAD ${b.key}: ${b.problem}: ${b.reason}`);
  for (const w of report.workspaces ?? []) {
    const of = (status: string) => w.days.filter((d) => d.status === status).map((d) => d.date);
    if (!report.sealed) {
      for (const r of runs(of("unsealed"))) {
        lines.push(
          `UNSEALED ${w.label} ${r}: no digest; its objects were checked for gzip, CRC32 and metadata only`,
        );
      }
    }
    for (const r of runs(of("pending"))) lines.push(`PENDING ${w.label} ${r}: not sealed yet (not due)`);
  }
  const where = `s3://${report.bucket}/${report.prefix}`;
  const days = report.days ?? { sealed: 0, pending: 0, unsealed: 0 };
  if (!report.ok) {
    lines.push(
      `FAILED: ${report.bad.length} problem(s) in ${where} (${report.checked} archived object(s) read` +
        `${report.digests ? `, ${report.digests} digest(s)` : ""}).`,
    );
  } else if (!report.sealed) {
    lines.push(
      `OK: ${report.checked} object(s) in ${where} verified (gzip, CRC32, metadata)` +
        (days.unsealed > 0
          ? `; no digest seals their ${days.unsealed} day(s): nothing proves that nothing was replaced, removed or added.`
          : "."),
    );
  } else {
    lines.push(
      `OK: ${report.checked} object(s) in ${where} verified against ${report.digests} digest(s), signatures checked ` +
        `${SIGNED_WITH[report.signatures]}, chains intact: ${days.sealed} day(s) sealed` +
        `${days.pending ? `, ${days.pending} not sealed yet` : ""}.`,
    );
  }
  return lines.join("\n");
}
