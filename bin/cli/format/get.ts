/** `get`'s progress line and closing lines for people. */
import type { GetProgress, GetReport } from "../../../lambda/reader/get";
import { formatBytes } from "./bytes";

/**
 * One progress line for a terminal: a bar, the percentage of bytes, files and bytes done.
 *
 * @example
 * ```ts
 * formatProgress({ files: 1, totalFiles: 4, bytes: 512, totalBytes: 2048 }, 10);
 * // "[###.......]  25%  1/4 files  512 B/2.0 KiB"
 * ```
 */
export function formatProgress(p: GetProgress, width = 30): string {
  const ratio =
    p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : p.totalFiles > 0 ? p.files / p.totalFiles : 1;
  const filled = Math.round(ratio * width);
  const bar = `${"#".repeat(filled)}${".".repeat(width - filled)}`;
  return `[${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${p.files}/${p.totalFiles} files  ${formatBytes(
    p.bytes,
  )}/${formatBytes(p.totalBytes)}`;
}

/** One line per object that failed, then the counts and where the files went. */
export function formatGetReport(report: GetReport, outDir: string): string {
  const lines = report.failed.map((f) => `FAILED ${f.key}: ${f.reason}`);
  lines.push(
    `${report.downloaded.length} downloaded (${formatBytes(report.bytes)}), ${report.skipped.length} already present, ` +
      `${report.failed.length} failed, into ${outDir}`,
  );
  return lines.join("\n");
}
