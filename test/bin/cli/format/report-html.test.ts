/**
 * The coverage report's HTML at DOM level (linkedom), from a hand-written verify report whose
 * values from the archive (tenant, keys, reasons) are markup: they stay text.
 */
import { parseHTML } from "linkedom";
import { describe, expect, it } from "vitest";
import { escapeHtml, renderReportHtml, STATE_TEXT } from "../../../../bin/cli/format/report-html";
import type { Workspace } from "../../../../lambda/config";
import { coverageReport } from "../../../../lambda/reader/report";
import type { VerifyReport } from "../../../../lambda/reader/verify";

const EVIL = `<script>alert("x")</script>`;
const GROUP = "32b6e34b3d91647abb20e7b8";
const WORKSPACE = { groupId: GROUP, tenantName: EVIL } as Workspace;
const OTHER: Workspace = { groupId: GROUP, tenantName: "billing", spName: "payments" };
const KEY = `p/<img src="http://evil.example/x.png" onerror=alert(1)>/2026/11/20/00.json.gz`;

const verify: VerifyReport = {
  bucket: `bucket<b>`,
  prefix: `p/<i>`,
  from: "2026-11-20T00:00:00Z",
  to: "2026-11-22T00:00:00Z",
  signatures: "public-key",
  sealed: true,
  checked: 2,
  bytes: 100,
  digests: 2,
  days: { sealed: 2, pending: 0, unsealed: 1 },
  bad: [
    { key: KEY, problem: "SHA256_MISMATCH", reason: `overwritten with <a href="https://evil.example">x</a>` },
    { key: "p/<u>junk", problem: "KEY_UNPARSABLE", reason: "key & 'quote' \"double\"" },
  ],
  workspaces: [
    {
      workspace: WORKSPACE,
      label: `${GROUP}/${EVIL}`,
      chain: "intact",
      days: [
        {
          date: "2026-11-20",
          status: "sealed",
          digest: { key: "p/d/2026-11-20.json", sequence: 1, sha256: "a", signature: "valid", problems: [] },
          windows: [
            {
              window: "2026-11-20T00:00:00Z/2026-11-21T00:00:00Z",
              key: KEY,
              state: "archived",
              result: "failed",
              bytes: 50,
              problems: ["SHA256_MISMATCH"],
            },
          ],
        },
        {
          date: "2026-11-21",
          status: "sealed",
          digest: { key: "p/d/2026-11-21.json", sequence: 2, sha256: "b", signature: "valid", problems: [] },
          windows: [
            {
              window: "2026-11-21T00:00:00Z/2026-11-22T00:00:00Z",
              key: "p/k2",
              state: "empty",
              result: "verified",
              bytes: 20,
              problems: [],
            },
          ],
        },
      ],
    },
    {
      workspace: OTHER,
      label: `${GROUP}/billing/payments`,
      chain: "none",
      days: [
        {
          date: "2026-11-21",
          status: "unsealed",
          digest: null,
          windows: [
            {
              window: "2026-11-21T00:00:00Z/2026-11-22T00:00:00Z",
              key: "p/k3",
              state: null,
              result: "intact",
              bytes: 30,
              problems: [],
            },
          ],
        },
      ],
    },
  ],
  ok: false,
};

const model = coverageReport(verify, {
  generatedAtMs: Date.parse("2026-11-30T12:00:00Z"),
  command: `atlas-audit-archiver report --group ${GROUP} --out 'a <b>.html'`,
  group: GROUP,
});
const html = renderReportHtml(model);
const { document } = parseHTML(html);

describe("renderReportHtml", () => {
  it("escapes every value from the archive: markup stays text", () => {
    expect(document.querySelectorAll("script")).toHaveLength(0);
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect(document.querySelectorAll("a")).toHaveLength(0);
    expect(document.querySelectorAll("b, i, u")).toHaveLength(0);
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    const headings = [...document.querySelectorAll("section.workspace h2")].map((h) => h.textContent);
    expect(headings).toEqual([`${GROUP}/${EVIL}`, `${GROUP}/billing/payments`]);
    expect(document.querySelector("section.workspace")?.getAttribute("data-workspace")).toBe(
      `${GROUP}/${EVIL}`,
    );
    expect(document.body.textContent).toContain(`overwritten with <a href="https://evil.example">x</a>`);
    expect(document.body.textContent).toContain(`key & 'quote' "double"`);
    expect(document.body.textContent).toContain("s3://bucket<b>/p/<i>");
  });

  it("refers to nothing remote: no src or href, no url(), no @import, no script", () => {
    for (const el of document.querySelectorAll("*")) {
      for (const name of ["src", "href", "srcset", "action", "data", "poster"]) {
        expect(el.getAttribute(name) ?? "").not.toMatch(/http/i);
      }
      expect(el.tagName.toLowerCase()).not.toMatch(/^(script|link|img|iframe|object|embed)$/);
    }
    const css = document.querySelector("style")?.textContent ?? "";
    expect(css).not.toMatch(/url\(|@import|http/i);
  });

  it("has one calendar table per workspace, a cell per day with its state, symbol and title", () => {
    const calendars = document.querySelectorAll("table.calendar");
    expect(calendars).toHaveLength(2);
    const cell = (i: number, date: string) => calendars[i]?.querySelector(`td[data-date="${date}"]`);
    expect(cell(0, "2026-11-20")?.getAttribute("class")).toBe("s-failed");
    expect(cell(0, "2026-11-20")?.getAttribute("title")).toBe(
      "2026-11-20: failed verification — 1 window(s): 1 failed verification — problems: SHA256_MISMATCH",
    );
    expect(cell(0, "2026-11-20")?.textContent).toContain("✗");
    expect(cell(0, "2026-11-21")?.getAttribute("class")).toBe("s-empty");
    expect(cell(1, "2026-11-20")?.getAttribute("class")).toBe("s-none");
    expect(cell(1, "2026-11-21")?.getAttribute("class")).toBe("s-unsealed");
    expect(cell(1, "2026-11-21")?.textContent).toContain(STATE_TEXT.unsealed.label);
    // Table semantics: the month labels the row, the day of the month the column.
    expect(calendars[0]?.querySelector("tbody th[scope=row]")?.textContent).toBe("November 2026");
    expect(calendars[0]?.querySelectorAll("thead th[scope=col]")).toHaveLength(32);
  });

  it("lists the windows of the days not all verified, with state, result and codes", () => {
    const details = [...document.querySelectorAll("section.workspace")].map((s) =>
      [...s.querySelectorAll("table.detail tbody tr")].map((r) => r.textContent ?? ""),
    );
    expect(details).toHaveLength(2);
    const [tampered, unsealed] = details;
    // The failed day: its heading row, then its window (the empty day is all verified: no rows).
    expect(tampered).toHaveLength(2);
    expect(tampered?.[0]).toContain("2026-11-20: ✗ failed verification");
    expect(tampered?.[1]).toContain("archived / failed");
    expect(tampered?.[1]).toContain("SHA256_MISMATCH");
    expect(tampered?.[1]).toContain(KEY);
    expect(tampered?.join("")).not.toContain("p/k2");
    expect(unsealed?.[0]).toContain("2026-11-21: ? unsealed (no digest)");
    expect(unsealed?.[0]).toContain("no digest");
    expect(unsealed?.[1]).toContain("not listed / intact");
  });

  it("shows the header, the legend, the chains, other problems, and prints well", () => {
    expect(document.querySelector("title")?.textContent).toContain("s3://bucket<b>/p/<i>");
    expect(document.querySelector(".verdict")?.textContent).toContain("FAILED: 2 problem(s)");
    expect(document.querySelector("pre.command")?.textContent).toBe(model.command);
    const meta = document.querySelector("dl.meta")?.textContent ?? "";
    expect(meta).toContain("2026-11-20 to 2026-11-21");
    expect(meta).toContain("2 sealed, 0 pending, 1 unsealed");
    expect(meta).toContain("0 archived, 1 empty, 0 missing, 1 failed verification, 1 unsealed");
    expect(meta).toContain("checked offline with the public key");
    expect(meta).toContain("2026-11-30T12:00:00Z");
    const legend = [...document.querySelectorAll("ul.legend li")].map((li) => li.textContent?.trim());
    expect(legend).toEqual(Object.values(STATE_TEXT).map((t) => `${t.symbol} ${t.label}`));
    expect([...document.querySelectorAll("[data-chain]")].map((e) => e.getAttribute("data-chain"))).toEqual([
      "intact",
      "none",
    ]);
    expect(document.body.textContent).toContain("KEY_UNPARSABLE");
    const css = document.querySelector("style")?.textContent ?? "";
    expect(css).toMatch(/@media print \{[\s\S]*break-before: page/);
    expect(css).toContain("print-color-adjust: exact");
  });

  it("escapes the five characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
    );
  });
});
