import { spawn } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { BenchResult } from "../../bench/report";

// Runs the harness exactly as CI would (`tsx bench/run.ts --quick --json`) so that it cannot rot.
// It checks the result's shape and sanity, never absolute speeds: this machine is shared.

const ROOT = join(import.meta.dirname, "..", "..");

function runQuickBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench", "run.ts"), "--quick", "--json"],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run bench -- --quick --json", () => {
  let result: BenchResult;
  let stdout: string;

  beforeAll(async () => {
    const run = await runQuickBench();
    expect(run.code, run.stderr).toBe(0);
    stdout = run.stdout;
    result = JSON.parse(stdout) as BenchResult;
  }, 120_000);

  it("prints exactly one JSON object on stdout, describing the machine", () => {
    expect(stdout.trim().split("\n")).toHaveLength(1);
    expect(result.mode).toBe("quick");
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(result.machine.node).toBe(process.versions.node);
    expect(result.durationSeconds).toBeGreaterThan(0);
  });

  it("measures one large log in both settings against both baselines, with consistent ratios", () => {
    expect(result.largeLog.map((s) => s.setting.name)).toEqual(["unthrottled", "WAN 25 MB/s"]);
    for (const { setting, sizes } of result.largeLog) {
      expect(sizes.map((s) => s.sizeMB)).toEqual([10, 20]);
      for (const s of sizes) {
        for (const speed of [s.downloadMBps, s.uploadMBps, s.downloadThenUploadMBps, s.pipelineMBps]) {
          expect(speed).toBeGreaterThan(0);
          expect(Number.isFinite(speed)).toBe(true);
        }
        expect(s.ceilingMBps).toBe(Math.min(s.downloadMBps, s.uploadMBps));
        expect(s.slowerLeg).toBe(s.downloadMBps < s.uploadMBps ? "download" : "upload");
        expect(s.pipelineOverCeiling).toBeCloseTo(s.pipelineMBps / s.ceilingMBps, 1);
        expect(s.pipelineOverDownloadThenUpload).toBeCloseTo(s.pipelineMBps / s.downloadThenUploadMBps, 1);
        // Sequential download-then-upload cannot beat its own upload leg, but the two are measured
        // at different moments on a shared 2-core machine (CI once saw 35 against 25 MB/s): only an
        // impossible ratio fails.
        expect(s.downloadThenUploadMBps).toBeLessThan(s.uploadMBps * 2);
        expect(s.pipelineLegs.streamed).toBeGreaterThan(0);
        expect(s.pipelineCpuSecondsPerGB).toBeGreaterThan(0);
        expect(s.machineBusy.pipeline).toBeGreaterThan(0);
        expect(s.machineBusy.pipeline).toBeLessThanOrEqual(1);
        // The throttle holds: no leg through the simulator is faster than it allows (with slack).
        if (setting.bytesPerSecond !== undefined) {
          expect(s.downloadMBps).toBeLessThan((setting.bytesPerSecond / 1e6) * 1.1);
          expect(s.slowerLeg).toBe("download");
        }
      }
    }
  });

  it("reports a peak RSS per size above the idle process's and far below the log's size", () => {
    const { memory } = result;
    expect(memory.idlePeakRssMiB).toBeGreaterThan(20);
    expect(memory.sizes.map((s) => s.sizeMB)).toEqual([10, 20]);
    for (const s of memory.sizes) {
      expect(s.pipelinePeakRssMiB).toBeGreaterThan(memory.idlePeakRssMiB * 0.9);
      expect(s.pipelinePeakRssMiB).toBeLessThan(memory.idlePeakRssMiB + 400);
    }
    expect(memory.largestOverSmallest).toBeCloseTo(
      (memory.sizes[1]?.pipelinePeakRssMiB ?? 0) / (memory.sizes[0]?.pipelinePeakRssMiB ?? 1),
      1,
    );
  });

  it("archives every window of many workspaces at each concurrency without ignoring a Retry-After", () => {
    const { plan, runs } = result.fanIn;
    expect(runs.map((r) => r.concurrency)).toEqual([1, 4, 16]);
    for (const run of runs) {
      expect(run.failures).toEqual([]);
      expect(run.archived).toBe(run.workspaces * plan.windowsPerWorkspace);
      expect(run.windows).toBe(run.archived);
      expect(run.windowsPerSecond).toBeGreaterThan(0);
      expect(run.retryAfterViolations).toBe(0);
    }
    // With 50 ms of latency per download, parallel workspaces must be faster than one at a time.
    expect(result.fanIn.speedup).toBeGreaterThan(1.5);
  });

  it("measures the bundled handler against an empty one", () => {
    const cold = result.coldStart;
    expect(cold.bundleBytes).toBeGreaterThan(10_000);
    expect(cold.emptyProcessMs).toBeGreaterThan(0);
    expect(cold.handlerProcessMs).toBeGreaterThan(cold.emptyProcessMs);
    expect(cold.handlerRequireMs).toBeGreaterThan(cold.emptyRequireMs);
  });

  it("plans, drains and backfills the scale scenario through the queue's code, counting what it costs", () => {
    const { plan, planner, drains, backfill } = result.scale;
    const workspaces = plan.projects * plan.perProject;
    expect(planner.map((p) => p.label)).toEqual(["nothing archived yet", "nothing missing"]);
    const [first, second] = planner;
    // One LIST per workspace, whether or not anything is missing; one message per missing window.
    for (const p of planner) {
      expect(p.due).toBe(workspaces);
      expect(p.listRequests).toBe(workspaces);
      expect(p.otherS3Requests).toBe(0);
    }
    expect(first?.messages).toBe(workspaces);
    expect(first?.sendBatches).toBe(Math.ceil(workspaces / 10));
    expect(second?.messages).toBe(0);
    expect(second?.sendBatches).toBe(0);
    expect(drains.map((d) => d.workers)).toEqual(plan.workers);
    for (const d of drains) {
      expect(d.failures).toEqual([]);
      expect(d.archived).toBe(workspaces);
      expect(d.retryAfterViolations).toBe(0);
      expect(d.windowsPerSecond).toBeGreaterThan(0);
      expect(d.projectShares.map((s) => s.at)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
      expect(d.projectShares.at(-1)?.minOverMean).toBe(1);
      expect(d.s3RequestsPerWindow.ListObjectsV2).toBe(1);
    }
    expect(backfill.failures).toEqual([]);
    expect(backfill.archived).toBe(backfill.windows);
    expect(backfill.plannerMessages).toBe(backfill.windows);
    expect(backfill.retryAfterViolations).toBe(0);
    expect(backfill.extrapolation.windows).toBe(500 * 366 * 24);
    expect(backfill.extrapolation.hours).toBeGreaterThan(0);
  });

  it("counts what the digests add to the deployed design's requests, exactly, and prices it", () => {
    const { plan, steady, cost, signing } = result.digests;
    expect(["kms", "local"]).toContain(signing);
    const { off, on } = steady;
    const workspaces = plan.steady.projects * plan.steady.perProject;
    for (const run of [off, on]) {
      expect(run.workspaces).toBe(workspaces);
      expect(run.runs).toBe(plan.steady.days * 24);
      // One hourly window per workspace and run.
      expect(run.windows).toBe(workspaces * run.runs);
      // The worker writes a receipt beside every log, whether or not the planner seals.
      expect(run.requests.worker?.receipts?.PutObject).toBe(run.windows);
    }
    // The archiving itself is the same request for request, digests on or off.
    for (const phase of ["planner", "worker"])
      expect(on.requests[phase]?.archive).toEqual(off.requests[phase]?.archive);
    expect(off.requests.seal).toBeUndefined();
    expect(off.sealedDays).toBe(0);
    // Each measured day seals one day per workspace, with one signature each.
    expect(on.sealedDays).toBe(workspaces * plan.steady.days);
    expect(on.requests.seal?.kms?.Sign).toBe(on.sealedDays);
    expect(on.requests.seal?.digests?.PutObject).toBe(on.sealedDays);
    // Sealing reads back every receipt of the day it seals.
    expect(on.requests.seal?.receipts?.GetObject).toBe(on.sealedDays * 24);
    const sum = (c: Readonly<Record<string, number>>) => Object.values(c).reduce((a, b) => a + b, 0);
    expect(sum(on.perWindow)).toBeGreaterThan(sum(off.perWindow));
    expect(sum(off.perWindow)).toBeGreaterThan(sum(steady.archiveOnlyPerWindow));
    for (const [op, n] of Object.entries(steady.extraPerWindow)) {
      expect(n).toBeCloseTo((on.perWindow[op] ?? 0) - (steady.archiveOnlyPerWindow[op] ?? 0), 2);
    }
    expect(steady.extraPerWindow["KMS Sign"]).toBeCloseTo(1 / 24, 3);
    expect(cost.workspaces).toBe(500);
    for (const line of cost.lines) {
      const price = cost.prices.find((p) => p.operation === line.operation);
      expect(price).toBeDefined();
      expect(line.dollars).toBeCloseTo(
        (line.requestsPerMonth / (price?.per ?? 1)) * (price?.dollars ?? 0),
        2,
      );
    }
    expect(cost.totalDollars).toBeCloseTo(
      cost.lines.reduce((a, l) => a + l.dollars, 0) + cost.keyDollarsPerMonth,
      2,
    );
  });

  it("verifies the same archives CRC-only and against the digests, reading each object once", () => {
    const { verify, steady } = result.digests;
    expect(verify.map((v) => `${v.archive} ${v.mode}`)).toEqual([
      "steady crc-only",
      "steady digests",
      "large crc-only",
      "large digests",
    ]);
    for (const v of verify) {
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
      expect(v.objects).toBeGreaterThan(0);
      expect(v.MBps).toBeGreaterThan(0);
      expect(v.objectsPerSecond).toBeGreaterThan(0);
      // One GET per object, and one per digest.
      expect(v.requests.GetObject).toBe(v.objects + v.digests);
    }
    const [steadyCrc, steadyDigests, largeCrc, largeDigests] = verify;
    expect(steadyDigests?.objects).toBe(steadyCrc?.objects);
    expect(largeDigests?.objects).toBe(largeCrc?.objects);
    expect(steadyCrc?.digests).toBe(0);
    expect(largeCrc?.digests).toBe(0);
    expect(steadyDigests?.digests).toBe(steady.on.sealedDays + steady.on.warmupSealedDays);
    expect(largeDigests?.digests).toBe(result.digests.plan.large.workspaces);
    expect(largeCrc?.bytes).toBeGreaterThan(1_000_000);
  });

  it("checks every target of the issue", () => {
    expect(result.targets.map((t) => t.name)).toEqual([
      "pipeline / ceiling (unthrottled)",
      "pipeline / ceiling (WAN 25 MB/s)",
      "pipeline / download-then-upload (WAN 25 MB/s)",
      "peak RSS, largest / smallest size",
      "peak RSS at 20 MB",
      "windows/s, concurrency 16 / concurrency 1",
      "requests while a Retry-After was pending",
      "bundled handler size",
      "cold load / empty handler (fresh process)",
      "scale: requests while a Retry-After was pending",
      "scale: planner wall time, 200 workspaces",
      "scale: LISTs per workspace, nothing missing",
      "scale: drain with 50 workers",
      "scale: fewest per project / mean, every 10 % of an hourly drain",
      "scale: fewest per workspace / mean, every 10 % of the backfill",
      "scale: backfill of 500 workspaces × 366 days",
      "scale: planner alone, 10 workspaces × 30 days",
    ]);
    for (const t of result.targets) expect(typeof t.met).toBe("boolean");
  });
});
