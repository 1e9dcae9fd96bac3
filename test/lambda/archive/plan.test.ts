import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  candidateWindows,
  laneGroups,
  MAX_RANGE_MS,
  orderTasks,
  partitionDates,
  planWorkspace,
  type WindowTask,
} from "../../../lambda/archive/plan";
import { archiveKey, parseConfig, type Workspace } from "../../../lambda/config";
import { InputError } from "../../../lambda/errors";
import { dueWindows, type TimeWindow } from "../../../lambda/windows";

const GROUP = "32b6e34b3d91647abb20e7b8";
const WORKSPACE: Workspace = { groupId: GROUP, tenantName: "prod" };
const PREFIX = "atlas/";
const keyOf = (w: TimeWindow) => archiveKey(PREFIX, WORKSPACE, w);
const config = parseConfig(
  JSON.stringify({
    archive: { prefix: PREFIX },
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 6 },
    workspaces: [WORKSPACE],
  }),
  "plan test",
);
const NOW = Date.parse("2026-11-28T15:20:00Z");
const hour = (h: number): TimeWindow => ({
  startMs: Date.parse("2026-11-28T00:00:00Z") + h * 3_600_000,
  endMs: Date.parse("2026-11-28T00:00:00Z") + (h + 1) * 3_600_000,
});

describe("candidateWindows", () => {
  it("is the lookback's due windows without a range, and the due windows overlapping a range with one", () => {
    expect(candidateWindows(config, NOW)).toEqual(dueWindows(NOW, config.window));
    const range = { fromMs: hour(10).startMs + 1_800_000, toMs: hour(16).startMs };
    // 10:00 to 15:00 overlap the range; 15:00-16:00 is not due at 15:20 (lag 15 min after its end).
    expect(candidateWindows(config, NOW, range)).toEqual([hour(10), hour(11), hour(12), hour(13), hour(14)]);
  });

  it("refuses an empty, reversed or too long range with an input error naming the field, not a flag", () => {
    for (const range of [
      { fromMs: hour(5).startMs, toMs: hour(5).startMs },
      { fromMs: hour(6).startMs, toMs: hour(5).startMs },
      { fromMs: 0, toMs: MAX_RANGE_MS + 1 },
    ]) {
      const error = (() => {
        try {
          candidateWindows(config, NOW, range);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InputError);
      expect(error).toMatchObject({ code: "RUN_RANGE_INVALID", kind: "usage", context: { field: "from" } });
      expect((error as Error).message).not.toContain("--");
    }
  });
});

describe("planWorkspace", () => {
  it("splits candidates into missing (in order), present, and objects to look at more closely", () => {
    const candidates = [hour(1), hour(2), hour(3), hour(4)];
    const existing = new Map([
      [keyOf(hour(2)), { fullObjectCrc32: true }],
      [keyOf(hour(3)), { fullObjectCrc32: false }],
      ["atlas/some/other/key", { fullObjectCrc32: true }],
    ]);
    expect(planWorkspace(candidates, keyOf, existing)).toEqual({
      missing: [hour(1), hour(4)],
      present: 1,
      toCheck: [{ window: hour(3), key: keyOf(hour(3)), index: 2 }],
    });
  });

  it("accounts for every candidate exactly once, whatever exists", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("none", "crc", "bare"), { maxLength: 48 }), (states) => {
        const candidates = states.map((_, i) => hour(i));
        const existing = new Map(
          states.flatMap((state, i) =>
            state === "none" ? [] : [[keyOf(hour(i)), { fullObjectCrc32: state === "crc" }] as const],
          ),
        );
        const plan = planWorkspace(candidates, keyOf, existing);
        expect(plan.missing.length + plan.present + plan.toCheck.length).toBe(candidates.length);
        expect(plan.missing).toEqual(candidates.filter((_, i) => states[i] === "none"));
      }),
    );
  });
});

describe("partitionDates", () => {
  it("lists each UTC date a window starts in once, in order", () => {
    expect(partitionDates([hour(22), hour(23), hour(24), hour(25), hour(48)])).toEqual([
      "2026-11-28",
      "2026-11-29",
      "2026-11-30",
    ]);
  });
});

describe("orderTasks", () => {
  const task = (tenantName: string, h: number): WindowTask => {
    const workspace = { groupId: GROUP, tenantName };
    return { workspace, label: `${GROUP}/${tenantName}`, window: hour(h), key: "", group: GROUP };
  };
  const names = (tasks: readonly WindowTask[]) =>
    tasks.map((t) => `${t.workspace.tenantName}${t.window.startMs === hour(1).startMs ? 1 : 2}`);

  it("puts the oldest windows first, and the workspaces in turn from the rotation among equals", () => {
    const lists = [[task("a", 1), task("a", 2)], [task("b", 2)], [task("c", 1), task("c", 2)]];
    expect(names(orderTasks(lists, 0))).toEqual(["a1", "c1", "a2", "b2", "c2"]);
    expect(names(orderTasks(lists, 1))).toEqual(["c1", "a1", "b2", "c2", "a2"]);
    expect(names(orderTasks(lists, 5))).toEqual(names(orderTasks(lists, 2)));
  });
});

describe("orderTasks across projects", () => {
  it("takes the projects in turn among equals, so a project whose workspaces stand together in the file is not last", () => {
    const other = "5f1e2d3c4b5a69788796a5b4";
    const t = (groupId: string, tenantName: string): WindowTask => ({
      workspace: { groupId, tenantName },
      label: `${groupId}/${tenantName}`,
      window: hour(1),
      key: "",
      group: groupId,
    });
    const lists = [[t(GROUP, "a1")], [t(GROUP, "a2")], [t(GROUP, "a3")], [t(other, "b1")], [t(other, "b2")]];
    const names = (rotation: number) => orderTasks(lists, rotation).map((x) => x.workspace.tenantName);
    expect(names(0)).toEqual(["a1", "b1", "a2", "b2", "a3"]);
    expect(names(1)).toEqual(["b2", "a2", "b1", "a3", "a1"]);
  });
});

describe("laneGroups", () => {
  it("deals a project's workspaces out to its lanes in turn", () => {
    const other = "5f1e2d3c4b5a69788796a5b4";
    const list = [GROUP, GROUP, other, GROUP].map((groupId, i) => ({ groupId, tenantName: `t${i}` }));
    expect(laneGroups(list, 2)).toEqual([`${GROUP}#0`, `${GROUP}#1`, `${other}#0`, `${GROUP}#0`]);
    expect(laneGroups(list, 1)).toEqual([`${GROUP}#0`, `${GROUP}#0`, `${other}#0`, `${GROUP}#0`]);
  });
});
