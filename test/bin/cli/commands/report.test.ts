/**
 * `atlas-audit-archiver report` on the command line, in process: a known sealed archive in the S3
 * test server (two days clean, a day with a gap, an empty day, a day with an overwritten object),
 * the HTML it writes read at DOM level (linkedom), `--json`, and the exit statuses.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";
import { parseHTML } from "linkedom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../../../lambda/config";
import type { CoverageReport } from "../../../../lambda/reader/report";
import { type TimeWindow, windowsInRange } from "../../../../lambda/windows";
import { GROUP, PROD } from "../../../support/archive-fixture";
import { runMain } from "../../../support/cli";
import {
  type LocalKey,
  localKey,
  logBytes,
  putLog,
  writeSealedArchive,
} from "../../../support/digest-fixture";
import { type S3TestServer, startS3Server } from "../../../support/s3-server";

const MINUTES = 360;
const DAYS = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"];
const NOW = Date.parse("2026-11-30T00:00:00Z");
const RANGE = ["--from", "2026-11-20", "--to", "2026-11-24"];

let s3server: S3TestServer;
let dir: string;
let configFile: string;
let key: LocalKey;
let keyFile: string;
let env: Record<string, string | undefined>;
let n = 0;

const windowOf = (date: string, i: number): TimeWindow => {
  const start = Date.parse(`${date}T00:00:00Z`);
  return windowsInRange(start, start + 86_400_000, MINUTES)[i] as TimeWindow;
};

beforeAll(async () => {
  s3server = await startS3Server();
  dir = await mkdtemp(join(tmpdir(), "cli-report-"));
  configFile = join(dir, "workspaces.json");
  await writeFile(
    configFile,
    JSON.stringify({
      archive: { bucket: s3server.bucket, prefix: "unused/" },
      window: { minutes: MINUTES, lagMinutes: 15, lookbackHours: 72 },
      workspaces: [PROD],
    }),
  );
  key = localKey();
  keyFile = join(dir, "public.pem");
  await writeFile(keyFile, key.publicKeyPem);
  env = {
    PATH: process.env.PATH,
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
});
afterAll(async () => {
  await s3server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runMain(args, { env, cwd: dir, now: () => NOW });

/** A sealed archive of PROD under a fresh prefix (day 22: window 1 missing; day 23 empty), and the report arguments. */
async function sealed(tamper: boolean): Promise<{ prefix: string; args: string[] }> {
  const prefix = `report${++n}/`;
  await writeSealedArchive({
    s3server,
    prefix,
    workspaces: [PROD],
    days: DAYS,
    windowMinutes: MINUTES,
    signer: key.signer,
    state: (_w, _window, i) => (i === 9 ? "missing" : i >= 12 && i < 16 ? "empty" : "archived"),
  });
  if (tamper) {
    const w = windowOf("2026-11-24", 1);
    await putLog(s3server, archiveKey(prefix, PROD, w), PROD, w, logBytes(PROD, w, 3, "forged"));
  }
  return {
    prefix,
    args: ["report", "--config", configFile, "--prefix", prefix, "--group", GROUP, ...RANGE],
  };
}

describe("atlas-audit-archiver report", () => {
  it("writes the HTML of a tampered archive and exits 1: the gap amber, the tampered day red, the empty day light", async () => {
    const { prefix, args } = await sealed(true);
    const out = join(dir, "tampered.html");
    const result = await cli([...args, "--public-key", keyFile, "--out", out]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `Wrote the coverage report of s3://${s3server.bucket}/${prefix} to ${out}: FAILED, 1 problem(s).\n`,
    );
    expect(result.status).toBe(1);

    const html = await readFile(out, "utf8");
    const { document } = parseHTML(html);
    const calendars = document.querySelectorAll("table.calendar");
    expect(calendars).toHaveLength(1);
    const cell = (date: string) => calendars[0]?.querySelector(`td[data-date="${date}"]`);
    expect(cell("2026-11-20")?.getAttribute("class")).toBe("s-verified");
    expect(cell("2026-11-21")?.getAttribute("class")).toBe("s-verified");
    expect(cell("2026-11-22")?.getAttribute("class")).toBe("s-missing");
    expect(cell("2026-11-22")?.getAttribute("title")).toBe(
      "2026-11-22: missing — 4 window(s): 3 archived, 1 missing",
    );
    expect(cell("2026-11-23")?.getAttribute("class")).toBe("s-empty");
    expect(cell("2026-11-23")?.getAttribute("title")).toBe(
      "2026-11-23: empty (proven no events) — 4 window(s): 4 empty",
    );
    expect(cell("2026-11-24")?.getAttribute("class")).toBe("s-failed");
    expect(cell("2026-11-24")?.getAttribute("title")).toBe(
      "2026-11-24: failed verification — 4 window(s): 3 archived, 1 failed verification — problems: SHA256_MISMATCH",
    );
    expect(document.querySelector("section.workspace h2")?.textContent).toBe(`${GROUP}/prod-workspace`);
    expect(document.querySelector("[data-chain]")?.getAttribute("data-chain")).toBe("intact");
    expect(document.querySelectorAll("ul.legend li")).toHaveLength(7);
    expect(document.querySelector("pre.command")?.textContent).toBe(
      `atlas-audit-archiver report --config ${configFile} --prefix ${prefix} --group ${GROUP} ` +
        `--from 2026-11-20 --to 2026-11-24 --public-key ${keyFile} --out ${out}`,
    );
    // The detail rows: the gap day and the tampered day, not the clean or the empty ones.
    const detailDays = [...document.querySelectorAll("table.detail tr[data-date]")].map((r) =>
      r.getAttribute("data-date"),
    );
    expect(detailDays).toEqual(["2026-11-22", "2026-11-24"]);
    const forged = archiveKey(prefix, PROD, windowOf("2026-11-24", 1));
    expect(document.querySelector("table.detail")?.textContent).toContain(forged);
    for (const el of document.querySelectorAll("[src], [href]")) {
      expect(`${el.getAttribute("src")}${el.getAttribute("href")}`).not.toMatch(/http/i);
    }
    expect(html).not.toMatch(/<script|<link|url\(/i);
  });

  it("exits 0 for an untouched archive, and --json writes the model (to --out, or stdout)", async () => {
    const { args } = await sealed(false);
    const out = join(dir, "clean.json");
    const written = await cli([...args, "--public-key", keyFile, "--json", "--out", out]);
    expect(written.status).toBe(0);
    expect(written.stderr).toContain(": OK.");
    const model = JSON.parse(await readFile(out, "utf8")) as CoverageReport;
    expect(model).toMatchObject({
      v: 1,
      ok: true,
      group: GROUP,
      signatures: "public-key",
      firstDate: "2026-11-20",
      lastDate: "2026-11-24",
      generatedAt: "2026-11-30T00:00:00Z",
      counts: {
        days: { sealed: 5, pending: 0, unsealed: 0 },
        windows: { archived: 15, empty: 4, missing: 1, failed: 0 },
      },
    });
    expect(model.workspaces[0]?.days.map((d) => d.state)).toEqual([
      "verified",
      "verified",
      "missing",
      "empty",
      "verified",
    ]);
    const stdout = await cli([...args, "--public-key", keyFile, "--json"]);
    expect(stdout.status).toBe(0);
    expect(JSON.parse(stdout.stdout)).toEqual({ ...model, command: expect.any(String) });
  });

  it("exits 1 without a key (signatures unchecked), still writing the report", async () => {
    const { args } = await sealed(false);
    const out = join(dir, "unchecked.html");
    const result = await cli([...args, "--out", out]);
    expect(result.status).toBe(1);
    const { document } = parseHTML(await readFile(out, "utf8"));
    expect(document.querySelector("dl.meta")?.textContent).toContain("not checked");
    expect(document.body.textContent).toContain("SIGNATURE_UNCHECKED");
  });

  it.each<[string, () => string[], string]>([
    ["neither --out nor --json", () => [], "report needs --out FILE"],
    ["both keys", () => ["--out", "x.html", "--public-key", keyFile, "--digest-key", "arn:x"], "not both"],
    [
      "a missing key file",
      () => ["--out", "x.html", "--public-key", join(dir, "nope.pem")],
      "cannot be read",
    ],
  ])("exits 2 for %s", async (_name, extra, message) => {
    const result = await cli(["report", "--config", configFile, ...extra()]);
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });

  it("exits 2 when --out cannot be written", async () => {
    const { args } = await sealed(false);
    const result = await cli([...args, "--public-key", keyFile, "--out", join(dir, "no", "such", "x.html")]);
    expect(result.stderr).toContain("Cannot write");
    expect(result.status).toBe(2);
  });

  it("prints its help, and is in the command list", async () => {
    const help = await cli(["report", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(
      /^Usage: atlas-audit-archiver report --group G --from DATE --to DATE --out FILE/,
    );
    for (const line of help.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect((await cli(["--help"])).stdout).toContain("  report      Write a coverage report");
  });
});

/** Debian's chromium, when installed (`.ci/run` installs it). */
const CHROMIUM = ["chromium", "chromium-browser"].find((name) => {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
if (!CHROMIUM) process.stderr.write("skipping the report's screenshot test: no chromium on PATH\n");

/** Distinct byte values in a PNG's inflated image data: a blank page has a handful, a drawn one many. */
function pixelVariety(png: Buffer): number {
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString("latin1", at + 4, at + 8) === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return new Set(inflateSync(Buffer.concat(idat))).size;
}

describe.runIf(CHROMIUM)("the report in headless Chromium", () => {
  /** A screenshot of `url` by headless Chromium, as `.ci/run`'s package starts it. */
  function screenshot(url: string, out: string): Buffer {
    execFileSync(
      CHROMIUM as string,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--hide-scrollbars",
        "--window-size=1200,1000",
        `--screenshot=${out}`,
        url,
      ],
      { stdio: "ignore", timeout: 60_000 },
    );
    return readFileSync(out);
  }

  it("renders a non-blank page, where a blank one stays blank", async () => {
    const { args } = await sealed(true);
    const html = join(dir, "screenshot.html");
    await cli([...args, "--public-key", keyFile, "--out", html]);
    const blank = pixelVariety(screenshot("about:blank", join(dir, "blank.png")));
    const shot = screenshot(pathToFileURL(html).href, join(dir, "report.png"));
    expect(shot.subarray(1, 4).toString()).toBe("PNG");
    expect(blank).toBeLessThan(10);
    expect(pixelVariety(shot)).toBeGreaterThan(100);
    // `REPORT_SCREENSHOT=docs/report.png npx vitest run …report.test.ts` refreshes the README's picture.
    if (process.env.REPORT_SCREENSHOT) await writeFile(process.env.REPORT_SCREENSHOT, shot);
  }, 120_000);
});
