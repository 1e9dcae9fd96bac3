import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as plan from "../../../../bin/cli/commands/plan";
import type { PlanReport } from "../../../../lambda/plan/preview";
import { formatWindow } from "../../../../lambda/windows";
import {
  BILLING_GAP,
  type GapArchive,
  NOW,
  PROD_GAP,
  startGapArchive,
} from "../../../lambda/plan/gap-archive";
import { BILLING, GROUP } from "../../../support/archive-fixture";
import { type CliResult, runMain } from "../../../support/cli";

let archive: GapArchive;
let dir: string;
let configFile: string;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  archive = await startGapArchive();
  dir = await mkdtemp(join(tmpdir(), "cli-plan-"));
  configFile = join(dir, "workspaces.json");
  const { config } = archive;
  const file = {
    atlas: config.atlas,
    archive: { bucket: archive.fixture.s3server.bucket, prefix: config.archive.prefix },
    window: config.window,
    schedule: config.schedule,
    workspaces: config.workspaces,
  };
  await writeFile(configFile, JSON.stringify(file));
  await writeFile(join(dir, "billing.json"), JSON.stringify({ ...file, workspaces: [BILLING] }));
  // No Atlas credentials at all: plan needs none.
  env = {
    PATH: process.env.PATH,
    AWS_ENDPOINT_URL_S3: archive.fixture.s3server.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
});
afterAll(async () => {
  await archive?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (...args: string[]): Promise<CliResult> =>
  runMain(["plan", "--config", configFile, "--now", NOW, ...args], { env, cwd: dir });

describe("atlas-audit-archiver plan", () => {
  it("prints one line per workspace, the missing windows and the totals, and exits 1 when a window is missing", async () => {
    const result = await cli();
    expect(result.stderr).toBe("");
    expect(result.status).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toEqual([
      `s3://${archive.fixture.s3server.bucket}/atlas/stream-audit/  the lookback 2026-11-28T20:20:00Z to ${NOW}  ` +
        `(60-minute windows, due as of ${NOW})`,
      `${GROUP}/prod-workspace: 5 due, 4 present (3 archived, 1 empty), 1 missing`,
      `  MISSING ${formatWindow(PROD_GAP)}`,
      `${GROUP}/billing/payments: 5 due, 4 present (4 archived, 0 empty), 1 missing (1 expiring soon)`,
      `  MISSING ${formatWindow(BILLING_GAP)}  expiring soon`,
      "TOTAL 2 workspace(s): 10 due, 8 present (7 archived, 1 empty), 2 missing (1 expiring soon)",
      "Expiring soon: missing windows starting before 2026-11-28T22:20:00Z, which the run 2 × 60 minutes " +
        "from now no longer looks at.",
      "MISSING: a run now would download 2 window(s), 1 of them expiring soon.",
    ]);
  });

  it("names a window that left the lookback since the previous scheduled run with no object", async () => {
    // An hour later, BILLING's 21:00 is out of the lookback: a run counts it expired.
    const result = await runMain(["plan", "--config", configFile, "--now", "2026-11-29T03:20:00Z"], {
      env,
      cwd: dir,
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      `${GROUP}/billing/payments: 5 due, 4 present (4 archived, 0 empty), 1 missing, 1 expired since the ` +
        `previous scheduled run\n  MISSING 2026-11-29T02:00:00Z/2026-11-29T03:00:00Z\n  EXPIRED ${formatWindow(BILLING_GAP)}\n`,
    );
    expect(result.stdout).toContain(
      "EXPIRED: 1 window(s) left the lookback since the previous scheduled run",
    );
  });

  it("prints the whole plan as one JSON object with --json", async () => {
    const result = await cli("--json");
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as PlanReport;
    expect(Object.keys(report).sort()).toEqual(
      [
        "bucket",
        "expiringSoonBefore",
        "mode",
        "now",
        "ok",
        "prefix",
        "range",
        "runIntervalMinutes",
        "schedule",
        "slices",
        "totals",
        "window",
        "workspaces",
      ].sort(),
    );
    expect(report).toMatchObject({
      bucket: archive.fixture.s3server.bucket,
      prefix: "atlas/stream-audit/",
      mode: "lookback",
      schedule: "rate(1 hour)",
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 6 },
      ok: false,
      totals: { due: 10, present: 8, archived: 7, empty: 1, missing: 2, expiringSoon: 1, expired: 0 },
    });
    expect(report.workspaces.map((w) => [w.workspace, w.missingRuns, w.expiringSoonWindows])).toEqual([
      [
        `${GROUP}/prod-workspace`,
        [{ from: "2026-11-29T00:00:00Z", to: "2026-11-29T01:00:00Z", windows: 1 }],
        [],
      ],
      [
        `${GROUP}/billing/payments`,
        [{ from: "2026-11-28T21:00:00Z", to: "2026-11-28T22:00:00Z", windows: 1 }],
        [formatWindow(BILLING_GAP)],
      ],
    ]);
  });

  it("plans a range of whole UTC days, a --to date included", async () => {
    const day = JSON.parse(
      (await cli("--from", "2026-11-28", "--to", "2026-11-28", "--json")).stdout,
    ) as PlanReport;
    expect(day).toMatchObject({
      mode: "range",
      range: { from: "2026-11-28T00:00:00Z", to: "2026-11-29T00:00:00Z" },
    });
    expect(day.workspaces.map((w) => [w.due, w.present, w.missing, w.outsideLookback])).toEqual([
      [24, 4, 20, 20],
      [24, 3, 21, 20],
    ]);
    // To the 29th included: its due windows too (00:00 and 01:00 at 02:20).
    const two = JSON.parse(
      (await cli("--from", "2026-11-28", "--to", "2026-11-29", "--json")).stdout,
    ) as PlanReport;
    expect(two.range).toEqual({ from: "2026-11-28T00:00:00Z", to: "2026-11-30T00:00:00Z" });
    expect(two.workspaces.map((w) => w.due)).toEqual([26, 26]);
  });

  it("lists the first 10 missing windows of a workspace in the text, and how many more", async () => {
    const result = await cli("--from", "2026-11-28", "--to", "2026-11-28");
    expect(result.status).toBe(1);
    const lines = result.stdout.split("\n");
    const prod = lines.indexOf(
      `${GROUP}/prod-workspace: 24 due, 4 present (3 archived, 1 empty), 20 missing, 20 outside the lookback`,
    );
    expect(prod).toBeGreaterThan(0);
    expect(lines.slice(prod + 1, prod + 12)).toEqual([
      ...Array.from({ length: 10 }, (_, h) => {
        const hh = String(h).padStart(2, "0");
        const next = String(h + 1).padStart(2, "0");
        return `  MISSING 2026-11-28T${hh}:00:00Z/2026-11-28T${next}:00:00Z`;
      }),
      "  … 10 more missing (--json lists them all)",
    ]);
    expect(result.stdout).toContain(
      "MISSING: a run of this range would download 41 window(s), 1 of them expiring soon. 40 are outside " +
        "the lookback: only run --from … --to … archives them.",
    );
  });

  it("plans a year's backfill in one listing per workspace, its missing windows as a few runs", async () => {
    archive.fixture.s3server.clearOperations();
    const started = performance.now();
    const result = await cli("--from", "2025-11-29", "--to", "2026-11-28", "--json");
    const elapsedMs = performance.now() - started;
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as PlanReport;
    // 365 days of hourly windows: 8,760 each, 2 x 8,760 within the planner's 100,000 a slice.
    expect(report.slices).toBe(1);
    expect(report.workspaces.map((w) => [w.due, w.present, w.missing, w.missingRuns.length])).toEqual([
      [8760, 4, 8756, 1],
      [8760, 3, 8757, 2],
    ]);
    expect(archive.fixture.s3server.operationsOf("ListObjectsV2")).toHaveLength(2);
    expect(result.stdout.length).toBeLessThan(3_000);
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it("downloads nothing from Atlas and writes nothing to S3: it only lists, once per workspace", async () => {
    archive.fixture.s3server.clearOperations();
    const before = archive.fixture.sim.requests.length;
    expect((await cli()).status).toBe(1);
    expect((await cli("--from", "2026-11-28", "--to", "2026-11-29", "--json")).status).toBe(1);
    expect(archive.fixture.sim.requests.slice(before).filter((r) => r.endpoint === "download")).toEqual([]);
    expect(archive.fixture.sim.requests.length).toBe(before);
    const ops = archive.fixture.s3server.operations.map((o) => o.op);
    expect(ops).toEqual(Array(4).fill("ListObjectsV2"));
    expect(ops.filter((op) => op === "PutObject" || op === "DeleteObject")).toEqual([]);
  });

  it("exits 0 when nothing is missing", async () => {
    const result = await runMain(
      [
        "plan",
        "--config",
        join(dir, "billing.json"),
        "--now",
        NOW,
        "--from",
        "2026-11-28T22:00:00Z",
        "--to",
        "2026-11-29T00:00Z",
      ],
      { env, cwd: dir },
    );
    expect(result.stdout).toContain(
      `${GROUP}/billing/payments: 2 due, 2 present (2 archived, 0 empty), 0 missing`,
    );
    expect(result.stdout).toContain("OK: nothing missing; a run of this range would download nothing.");
    expect(result.status).toBe(0);
  });

  it.each<[string, string[], string]>([
    [
      "--from without --to",
      ["--from", "2026-11-28"],
      "--from and --to are required together: give --to too.",
    ],
    [
      "an instant without a zone",
      ["--from", "2026-11-28T10:00", "--to", "2026-11-29"],
      "The zone is missing: add Z for UTC",
    ],
    ["a reversed range", ["--from", "2026-11-29", "--to", "2026-11-28"], "is reversed"],
    ["a range over 366 days", ["--from", "2025-01-01", "--to", "2026-01-02"], "more than the 366 allowed"],
    ["a mistyped option", ["--form", "2026-11-28"], "Unknown option --form for plan. Did you mean --from?"],
    ["an option of another command", ["--group", GROUP], "Unknown option --group for plan."],
    ["a word where options belong", ["json"], 'plan takes options only, not "json". Did you mean --json?'],
    ["a --now without a zone", ["--now", "2026-11-29T02:20:00"], '--now "2026-11-29T02:20:00"'],
  ])("exits 2 for %s, on stderr with the usage hint", async (_name, args, message) => {
    const result = await cli(...args);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("Run atlas-audit-archiver plan --help for usage.");
    expect(result.status).toBe(2);
  });

  it("exits 2 without a bucket, and for a bucket that does not exist", async () => {
    const noBucket = join(dir, "no-bucket.json");
    await writeFile(noBucket, JSON.stringify({ workspaces: archive.config.workspaces }));
    const none = await runMain(["plan", "--config", noBucket], { env, cwd: dir });
    expect(none.stderr).toContain(
      "No bucket: set archive.bucket in the parameter file or the ARCHIVE_BUCKET variable.",
    );
    expect(none.status).toBe(2);
    const missing = await runMain(["plan", "--config", noBucket], {
      env: { ...env, ARCHIVE_BUCKET: "no-such-bucket" },
      cwd: dir,
    });
    expect(missing.stderr).toContain("NoSuchBucket");
    expect(missing.status).toBe(2);
  });

  it("answers --help (and help plan) on stdout with its options, the expiring-soon rule and its exit statuses", async () => {
    const result = await runMain(["plan", "--help"], { env: {} });
    expect(result).toEqual({ status: 0, stdout: `${plan.help}\n`, stderr: "" });
    expect((await runMain(["help", "plan"], { env: {} })).stdout).toBe(result.stdout);
    for (const row of [
      "--config FILE",
      "--now INSTANT",
      "--from, --to",
      "--json",
      "ARCHIVE_BUCKET",
      "AWS_ENDPOINT_URL_S3",
    ]) {
      expect(result.stdout).toContain(row);
    }
    expect(result.stdout).not.toContain("ATLAS_CLIENT_ID");
    expect(result.stdout.replace(/\s+/g, " ")).toContain(
      "they start before now + 2 × the schedule's interval - lookbackHours; a cron(...) schedule is judged when it fires at one interval all day every day",
    );
    expect(result.stdout.replace(/\s+/g, " ")).toContain(
      "Exit status: 0 when no due window is missing, 1 when one is",
    );
  });

  it("is in the command list and in shell completion", async () => {
    expect((await runMain(["--help"], { env: {} })).stdout).toContain(`\n  plan        ${plan.summary}\n`);
    const bash = (await runMain(["completion", "bash"], { env: {} })).stdout;
    expect(bash).toContain("    plan)\n");
    expect(bash).toMatch(/flags="[^"]*--from\b/);
  });
});
