import { afterEach, describe, expect, it } from "vitest";
import { createAtlasDispatcher } from "../../../lambda/atlas/dispatcher";
import { runDoctor } from "../../../lambda/doctor";
import { probeWindow } from "../../../lambda/doctor/atlas";
import { formatWindow } from "../../../lambda/windows";
import { GROUP, PROD, testConfig } from "../../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../../support/atlas-simulator";
import { type S3TestServer, startS3Server } from "../../support/s3-server";

const NOW = Date.parse("2026-11-28T15:20:00Z");
const credentials = { kind: "service-account", ...DEFAULT_SERVICE_ACCOUNT } as const;

describe("runDoctor", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  afterEach(async () => {
    await sim?.close();
    await s3?.close();
  });

  async function doctor(bounds: Parameters<typeof runDoctor>[0]["bounds"], workspaces = [PROD]) {
    const dispatcher = createAtlasDispatcher();
    try {
      return await runDoctor({
        configSubject: "test configuration",
        loadConfig: () => testConfig(sim.baseUrl, { workspaces }),
        bucket: s3.bucket,
        credentials: () => credentials,
        dispatcher,
        s3: s3.client({ maxAttempts: 1 }),
        digestKey: { absent: "none in this test" },
        nowMs: NOW,
        bounds,
      });
    } finally {
      await dispatcher.close();
    }
  }

  it("probes the last minute of the latest due window", () => {
    const config = testConfig("https://cloud.mongodb.com");
    expect(formatWindow(probeWindow(config, NOW, 60_000))).toBe("2026-11-28T14:59:00Z/2026-11-28T15:00:00Z");
  });

  it("bounds each Atlas call and each S3 request, and names what went silent", async () => {
    sim = await startAtlasSimulator();
    s3 = await startS3Server();
    // The token request answers; the probe's headers never come within the bound, nor the listing's.
    sim.inject({ kind: "stall-headers", ms: 60_000 });
    s3.inject({ op: "ListObjectsV2", kind: "stall", ms: 60_000 });
    const startedMs = Date.now();
    const report = await doctor({ atlasCallMs: 400, s3CallMs: 400 });
    const tookMs = Date.now() - startedMs;
    expect(report.ok).toBe(false);
    const byId = Object.fromEntries(report.checks.map((c) => [`${c.id} ${c.subject}`, c]));
    expect(byId[`workspace workspace ${GROUP}/prod-workspace`]).toMatchObject({
      status: "fail",
      code: "DOCTOR_TIMEOUT",
      detail: "no answer from Atlas within 0.4 s",
    });
    expect(byId[`bucket bucket ${s3.bucket}`]).toMatchObject({ status: "fail", code: "DOCTOR_TIMEOUT" });
    // Two bounds of 0.4 s, and the rest answered at once (the token revoked on the way out).
    expect(tookMs).toBeLessThan(5_000);
    expect(sim.liveTokens()).toBe(0);
  });

  it("reads at most probeBytes of a workspace's log and says the rest was not read", async () => {
    sim = await startAtlasSimulator({ linesPerWindow: () => 5_000 });
    s3 = await startS3Server();
    const report = await doctor({ probeBytes: 1024 });
    const probe = report.checks.find((c) => c.id === "workspace");
    expect(probe).toMatchObject({ status: "ok" });
    expect(probe?.detail).toMatch(/the first \d+ bytes \(the rest not read\) of gzip/);
  });
});
