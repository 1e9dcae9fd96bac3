import { afterEach, describe, expect, it } from "vitest";
import type { AtlasSource } from "../../../lambda/archive/run";
import type { Workspace } from "../../../lambda/config";
import {
  type ArchiveFixture,
  GROUP,
  OTHER_GROUP,
  simulatorClient,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";

const NOW = Date.parse("2026-11-28T15:20:00Z");
const THIRD_GROUP = "6a7b8c9d0e1f2a3b4c5d6e7f";
const ws = (groupId: string, n: number): Workspace[] =>
  Array.from({ length: n }, (_, i) => ({ groupId, tenantName: `t${groupId.slice(0, 2)}${i}` }));

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

/** The fixture's Atlas client, watched: downloads in flight per project, from the call to the body's end. */
function watchedAtlas(): { atlas: AtlasSource; maxInFlight: Map<string, number>; maxTotal: () => number } {
  const client = simulatorClient(fixture.sim, fixture.dispatcher, { retry: {} });
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  let total = 0;
  let maxTotal = 0;
  return {
    maxInFlight,
    maxTotal: () => maxTotal,
    atlas: {
      download: async (workspace, window, options) => {
        const g = workspace.groupId;
        inFlight.set(g, (inFlight.get(g) ?? 0) + 1);
        maxInFlight.set(g, Math.max(maxInFlight.get(g) ?? 0, inFlight.get(g) ?? 0));
        maxTotal = Math.max(maxTotal, ++total);
        const end = () => {
          inFlight.set(g, (inFlight.get(g) ?? 1) - 1);
          total--;
        };
        try {
          const log = await client.download(workspace, window, options);
          log.body.once("close", end);
          return log;
        } catch (err) {
          end();
          throw err;
        }
      },
    },
  };
}

describe("archiveRun's queue", () => {
  it("under the window cap, archives every workspace's oldest window before any workspace's second", async () => {
    const workspaces = [...ws(GROUP, 2), ...ws(OTHER_GROUP, 2), ...ws(THIRD_GROUP, 2)];
    fixture = await startArchiveFixture({ simulator: { workspaces } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces });
    const summary = await fixture.run(config, NOW, { settings: { maxWindows: 6 } });
    const oldest = "2026-11-28T10:00:00Z/2026-11-28T11:00:00Z";
    expect(summary.workspaces.map((w) => w.archived.map((a) => a.window))).toEqual(
      workspaces.map(() => [oldest]),
    );
    expect(summary.workspaces.map((w) => [w.deferred, w.deferredReason])).toEqual(
      workspaces.map(() => [4, "window cap"]),
    );
  });

  it("puts a different workspace first on each run, so none is always last under the cap", async () => {
    const workspaces = ws(GROUP, 3).map((w, i) => ({
      ...w,
      groupId: [GROUP, OTHER_GROUP, THIRD_GROUP][i] as string,
    }));
    fixture = await startArchiveFixture({ simulator: { workspaces } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces });
    const first: string[] = [];
    for (let hour = 0; hour < 3; hour++) {
      const summary = await fixture.run(config, NOW + hour * 3_600_000, {
        settings: { maxWindows: 1, concurrency: 1 },
      });
      first.push(summary.workspaces.find((w) => w.archived.length === 1)?.workspace ?? "none");
    }
    expect(new Set(first).size).toBe(3);
  });

  it("keeps at most lanesPerProject downloads of a project in flight, whatever the order of the parameter file", async () => {
    // Two projects, each one's workspaces contiguous in the file: before the queue, all four
    // workers went to the first project.
    const workspaces = [...ws(GROUP, 4), ...ws(OTHER_GROUP, 4)];
    fixture = await startArchiveFixture({ simulator: { workspaces, latencyMs: 30 } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces });
    const watched = watchedAtlas();
    const summary = await fixture.run(config, NOW, {
      atlas: watched.atlas,
      settings: { concurrency: 4, lanesPerProject: 2 },
    });
    expect(summary.totals).toMatchObject({ archived: 40, failed: 0, deferred: 0 });
    expect(Object.fromEntries(watched.maxInFlight)).toEqual({ [GROUP]: 2, [OTHER_GROUP]: 2 });
    expect(watched.maxTotal()).toBe(4);
  });
});

describe("archiveRun and windows leaving the lookback", () => {
  it("counts a window that left the lookback since the previous run unarchived, once, naming it", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, {
      workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }],
    });
    // The oldest window (10:00) fails on the first run, then leaves the 6-hour lookback.
    fixture.sim.inject({ fault: { kind: "status", status: 500 }, times: 6 });
    const first = await fixture.run(config, NOW, { previousRunMs: NOW - 3_600_000 });
    expect(first.totals).toMatchObject({ archived: 4, failed: 1, expired: 0 });
    const events: string[] = [];
    const next = await fixture.run(config, NOW + 3_600_000, {
      previousRunMs: NOW,
      onEvent: (e) => {
        if (e.type === "expired") events.push(`${e.workspace} ${e.window}`);
      },
    });
    expect(next.totals).toMatchObject({ expired: 1, failed: 0 });
    expect(events).toEqual([`${GROUP}/prod-workspace 2026-11-28T10:00:00Z/2026-11-28T11:00:00Z`]);
    // One interval later it is no longer counted: each loss is counted by one run only.
    const later = await fixture.run(config, NOW + 2 * 3_600_000, { previousRunMs: NOW + 3_600_000 });
    expect(later.totals.expired).toBe(0);
  });

  it("counts nothing for a new stream processor of a tenant whose other processors are archived", async () => {
    fixture = await startArchiveFixture();
    const refunds = { groupId: GROUP, tenantName: "billing", spName: "refunds" };
    const payments = { groupId: GROUP, tenantName: "billing", spName: "payments" };
    await fixture.run(testConfig(fixture.sim.baseUrl, { workspaces: [refunds] }), NOW);
    const both = testConfig(fixture.sim.baseUrl, { workspaces: [refunds, payments] });
    const next = await fixture.run(both, NOW + 3_600_000, { previousRunMs: NOW });
    expect(next.workspaces.map((w) => [w.workspace, w.expired])).toEqual([
      [`${GROUP}/billing/refunds`, 0],
      [`${GROUP}/billing/payments`, 0],
    ]);
  });

  it("counts nothing for a workspace with nothing archived yet (a first run), nor for a range", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, {
      workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }],
    });
    const first = await fixture.run(config, NOW, { previousRunMs: NOW - 3_600_000 });
    expect(first.totals).toMatchObject({ archived: 5, expired: 0 });
    const range = await fixture.run(config, NOW + 3 * 3_600_000, {
      previousRunMs: NOW,
      range: { fromMs: NOW, toMs: NOW + 3_600_000 },
    });
    expect(range.totals.expired).toBe(0);
  });
});
