/**
 * `report`'s HTML: one self-contained page (inline CSS, no script, no font, image or link to fetch)
 * of a {@link CoverageReport}: the header (where, what range, how signatures were checked, the
 * counts, when, and the command that reproduces it), a legend, and per workspace its chain's
 * status, a calendar table (a row per month, a cell per day, coloured and marked with a symbol and
 * a text) and a detail table of the windows of every day that is not all verified. Every value
 * from the archive is escaped. It prints: light backgrounds, colours kept, a page per workspace.
 */

import { MONTHS } from "../../../lambda/range";
import {
  CELL_STATES,
  type CellState,
  type CoverageReport,
  type ReportDay,
  type ReportProblem,
  type ReportWorkspace,
  type WindowCounts,
} from "../../../lambda/reader/report";
import { formatBytes } from "./bytes";

/** `text` safe in HTML text and in a double-quoted attribute. */
export function escapeHtml(text: string | number): string {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Each state's words and symbol (the symbol is what tells the states apart without colour). */
export const STATE_TEXT: Readonly<Record<CellState, { readonly label: string; readonly symbol: string }>> = {
  verified: { label: "archived and verified", symbol: "✓" },
  empty: { label: "empty (proven no events)", symbol: "○" },
  missing: { label: "missing", symbol: "!" },
  failed: { label: "failed verification", symbol: "✗" },
  pending: { label: "pending (not sealed yet)", symbol: "…" },
  unsealed: { label: "unsealed (no digest)", symbol: "?" },
  none: { label: "no record", symbol: "·" },
};

const SIGNATURES = {
  "public-key": "checked offline with the public key",
  kms: "checked through AWS KMS (kms:Verify)",
  none: "not checked (no key given): nothing is proven",
} as const;

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
  background: #fff; margin: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .25rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
.verdict { font-weight: 600; padding: .4rem .6rem; border: 2px solid; display: inline-block; }
.verdict.ok { border-color: #1a7f37; color: #1a7f37; }
.verdict.bad { border-color: #c62828; color: #c62828; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85rem; }
pre.command { white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: .5rem;
  border: 1px solid #ccc; }
table { border-collapse: collapse; }
table.counts td, table.counts th, table.detail td, table.detail th { border: 1px solid #bbb;
  padding: .15rem .4rem; text-align: left; vertical-align: top; }
table.calendar { margin: .25rem 0 .75rem; }
table.calendar th { font-weight: 500; font-size: .75rem; padding: 0 .25rem; }
table.calendar th[scope=row] { text-align: right; white-space: nowrap; }
table.calendar td { width: 1.6rem; height: 1.6rem; text-align: center; font-size: .8rem;
  border: 1px solid #fff; padding: 0; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.s-verified { background: #2e9d4f; color: #fff; }
.s-empty { background: #d9f2df; color: #1b5e20; }
.s-missing { background: #f5a623; color: #3b2500; }
.s-failed { background: #d32f2f; color: #fff; font-weight: 700; }
.s-pending { background: repeating-linear-gradient(45deg, #bdbdbd 0 3px, #eeeeee 3px 6px); color: #333; }
.s-unsealed { background: #fff; color: #333; outline: 2px solid #555; outline-offset: -3px; }
.s-none { background: #f7f7f7; color: #999; }
td.out { background: transparent; }
.legend { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; list-style: none; padding: 0; margin: .5rem 0; }
.legend li { display: flex; align-items: center; gap: .4rem; }
.swatch { display: inline-block; width: 1.4rem; height: 1.4rem; line-height: 1.4rem; text-align: center;
  font-size: .8rem; }
.chain-intact { color: #1a7f37; font-weight: 600; }
.chain-broken { color: #c62828; font-weight: 600; }
.chain-none { color: #555; font-weight: 600; }
table.detail { margin: .25rem 0 1rem; width: 100%; table-layout: fixed; }
table.detail code { overflow-wrap: anywhere; }
table.detail th[scope=rowgroup] { background: #f0f0f0; }
table.detail td.state { white-space: nowrap; }
.problem { display: block; }
.reason { color: #444; }
section.workspace { margin-top: 2rem; border-top: 2px solid #333; padding-top: .5rem; }
.s-verified, .s-empty, .s-missing, .s-failed, .s-pending, .s-unsealed, .s-none {
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print {
  body { margin: 0; font-size: 11px; background: #fff; color: #000; }
  pre.command { background: #fff; }
  section.workspace { break-before: page; page-break-before: always; border-top: none; }
  table.calendar, table.calendar tr, table.detail tr { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

function stateCounts(counts: WindowCounts): string {
  const parts: string[] = [];
  if (counts.archived) parts.push(`${counts.archived} archived`);
  if (counts.empty) parts.push(`${counts.empty} empty`);
  if (counts.missing) parts.push(`${counts.missing} missing`);
  if (counts.failed) parts.push(`${counts.failed} failed verification`);
  if (counts.pending) parts.push(`${counts.pending} pending`);
  if (counts.unsealed) parts.push(`${counts.unsealed} unsealed`);
  return parts.length ? parts.join(", ") : "no window";
}

/** A day's tooltip: its date, state and counts (and its problem codes). */
export function dayTitle(day: ReportDay): string {
  const total = day.windows.length;
  const codes = [...new Set([...day.problems, ...day.windows.flatMap((w) => w.problems)].map((p) => p.code))];
  return [
    `${day.date}: ${STATE_TEXT[day.state].label}`,
    ...(day.state === "none" ? [] : [`${total} window(s): ${stateCounts(day.counts)}`]),
    ...(codes.length ? [`problems: ${codes.join(", ")}`] : []),
  ].join(" — ");
}

function dayCell(day: ReportDay): string {
  const text = STATE_TEXT[day.state];
  const dayOfMonth = Number(day.date.slice(8, 10));
  return (
    `<td class="s-${day.state}" data-date="${escapeHtml(day.date)}" data-state="${day.state}" ` +
    `title="${escapeHtml(dayTitle(day))}"><span aria-hidden="true">${text.symbol}</span>` +
    `<span class="vh">${dayOfMonth}: ${escapeHtml(text.label)}</span></td>`
  );
}

/** The calendar: a row per month of the range, a column per day of the month. */
function calendar(workspace: ReportWorkspace): string {
  const months = new Map<string, Map<number, ReportDay>>();
  for (const day of workspace.days) {
    const month = day.date.slice(0, 7);
    const days = months.get(month) ?? new Map<number, ReportDay>();
    days.set(Number(day.date.slice(8, 10)), day);
    months.set(month, days);
  }
  const head = Array.from({ length: 31 }, (_, i) => `<th scope="col">${i + 1}</th>`).join("");
  const rows = [...months].map(([month, days]) => {
    const name = `${MONTHS[Number(month.slice(5, 7)) - 1]} ${month.slice(0, 4)}`;
    const cells = Array.from({ length: 31 }, (_, i) => {
      const day = days.get(i + 1);
      return day ? dayCell(day) : `<td class="out"></td>`;
    }).join("");
    return `<tr><th scope="row">${escapeHtml(name)}</th>${cells}</tr>`;
  });
  return (
    `<table class="calendar" aria-label="${escapeHtml(`Days of ${workspace.label}`)}">` +
    `<caption class="vh">${escapeHtml(`Calendar of ${workspace.label}: one cell per UTC day`)}</caption>` +
    `<thead><tr><th scope="col">Month</th>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`
  );
}

function problemList(problems: readonly ReportProblem[]): string {
  return problems
    .map(
      (p) =>
        `<span class="problem"><code>${escapeHtml(p.code)}</code>` +
        `${p.reason ? ` <span class="reason">${escapeHtml(p.reason)}</span>` : ""}</span>`,
    )
    .join("");
}

function stateLabel(state: CellState): string {
  const text = STATE_TEXT[state];
  return `<span class="swatch s-${state}" aria-hidden="true">${text.symbol}</span> ${escapeHtml(text.label)}`;
}

/** The windows of every day that is not all verified. */
function detail(workspace: ReportWorkspace): string {
  const days = workspace.days.filter((d) => !d.clean && d.state !== "none");
  if (!days.length) return `<p>Every day with a record is archived and verified (or proven empty).</p>`;
  const groups = days.map((day) => {
    const digest = day.digest
      ? `digest <code>${escapeHtml(day.digest.key)}</code> (sequence ${escapeHtml(String(day.digest.sequence ?? "?"))}, signature ${escapeHtml(day.digest.signature)})`
      : "no digest";
    const head =
      `<tr data-date="${escapeHtml(day.date)}"><th scope="rowgroup" colspan="5">` +
      `${escapeHtml(day.date)}: ${stateLabel(day.state)}; ${day.windows.length} window(s): ${escapeHtml(stateCounts(day.counts))}; ${digest}` +
      `${day.problems.length ? problemList(day.problems) : ""}</th></tr>`;
    const rows = day.windows.map(
      (w) =>
        `<tr class="w-${w.state}"><td><code>${escapeHtml(w.window)}</code></td>` +
        `<td class="state">${stateLabel(w.state)}</td>` +
        `<td>${escapeHtml(w.sealedAs ?? "not listed")} / ${escapeHtml(w.result)}</td>` +
        `<td><code>${escapeHtml(w.key)}</code>${w.bytes === undefined ? "" : ` (${escapeHtml(formatBytes(w.bytes))})`}</td>` +
        `<td>${problemList(w.problems)}</td></tr>`,
    );
    return `<tbody>${head}${rows.join("")}</tbody>`;
  });
  return (
    `<table class="detail"><caption class="vh">${escapeHtml(`Windows of the days of ${workspace.label} that are not all verified`)}</caption>` +
    `<thead><tr><th scope="col">Window (UTC)</th><th scope="col">State</th>` +
    `<th scope="col">Sealed as / result</th><th scope="col">Key</th><th scope="col">Problems</th></tr></thead>` +
    `${groups.join("")}</table>`
  );
}

const CHAIN = {
  intact: "intact: every digest links to the one before",
  broken: "broken: a digest is missing, replaced or out of order",
  none: "none: no digest was read",
} as const;

function workspaceSection(workspace: ReportWorkspace): string {
  const c = workspace.counts.days;
  const dayParts = CELL_STATES.filter((s) => c[s] > 0).map((s) => `${c[s]} ${STATE_TEXT[s].label}`);
  return (
    `<section class="workspace" data-workspace="${escapeHtml(workspace.label)}">` +
    `<h2>${escapeHtml(workspace.label)}</h2>` +
    `<p>Chain: <span class="chain-${workspace.chain}" data-chain="${workspace.chain}">${escapeHtml(CHAIN[workspace.chain])}</span>. ` +
    `Days: ${escapeHtml(dayParts.join(", ") || "none")}. Windows: ${escapeHtml(stateCounts(workspace.counts.windows))}.</p>` +
    `${calendar(workspace)}<h3>Days not all verified</h3>${detail(workspace)}</section>`
  );
}

function legend(): string {
  const items = CELL_STATES.map((s) => `<li>${stateLabel(s)}</li>`).join("");
  return `<h2 id="legend">Legend</h2><ul class="legend" aria-labelledby="legend">${items}</ul>`;
}

/** The report as one self-contained HTML page. */
export function renderReportHtml(report: CoverageReport): string {
  const range =
    report.firstDate && report.lastDate
      ? `${report.firstDate} to ${report.lastDate} (UTC days, both included)`
      : "no day";
  const { days, windows } = report.counts;
  const where = `s3://${report.bucket}/${report.prefix}`;
  const verdict = report.ok
    ? `<p class="verdict ok">✓ OK: everything due is sealed and verified</p>`
    : `<p class="verdict bad">✗ FAILED: ${escapeHtml(report.problems)} problem(s) found</p>`;
  const meta: Array<[string, string]> = [
    ["Archive", `<code>${escapeHtml(where)}</code>`],
    ["Bucket", `<code>${escapeHtml(report.bucket)}</code>`],
    ["Prefix", `<code>${escapeHtml(report.prefix)}</code>`],
    ["Group", report.group === null ? "every group" : `<code>${escapeHtml(report.group)}</code>`],
    ["Date range", escapeHtml(range)],
    ["Signatures", escapeHtml(SIGNATURES[report.signatures])],
    ["Days", escapeHtml(`${days.sealed} sealed, ${days.pending} pending, ${days.unsealed} unsealed`)],
    [
      "Windows",
      escapeHtml(
        `${windows.archived} archived, ${windows.empty} empty, ${windows.missing} missing, ` +
          `${windows.failed} failed verification` +
          `${windows.pending ? `, ${windows.pending} pending` : ""}${windows.unsealed ? `, ${windows.unsealed} unsealed` : ""}`,
      ),
    ],
    [
      "Read",
      escapeHtml(`${report.checked} object(s), ${formatBytes(report.bytes)}, ${report.digests} digest(s)`),
    ],
    [
      "Generated",
      `<time datetime="${escapeHtml(report.generatedAt)}">${escapeHtml(report.generatedAt)}</time>`,
    ],
  ];
  const others = report.otherProblems.length
    ? `<h2>Other problems</h2><table class="detail"><thead><tr><th scope="col">Key</th><th scope="col">Problem</th></tr></thead><tbody>` +
      report.otherProblems
        .map((p) => `<tr><td><code>${escapeHtml(p.key)}</code></td><td>${problemList([p])}</td></tr>`)
        .join("") +
      `</tbody></table>`
    : "";
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(`Archive coverage: ${where}${report.group ? ` ${report.group}` : ""}, ${range}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>Audit log archive coverage</h1>${verdict}`,
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`,
    `<p>Reproduce with:</p><pre class="command"><code>${escapeHtml(report.command)}</code></pre></header>`,
    `<main>${legend()}${others}${report.workspaces.map(workspaceSection).join("")}`,
    report.workspaces.length ? "" : "<p>No workspace has an object or a digest in the range.</p>",
    `</main></body></html>`,
    "",
  ].join("\n");
}
