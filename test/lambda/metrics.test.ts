import { describe, expect, it } from "vitest";
import { RUN_METRICS } from "../../lambda/config";
import { invocationMetrics } from "../../lambda/metrics";

describe("invocationMetrics", () => {
  it("is an embedded-metric-format document with every metric and the FunctionName dimension, those not given at 0", () => {
    const doc = invocationMetrics("AtlasAuditArchiver", "archiver-worker", 1_795_000_000_000, "r-1", {
      [RUN_METRICS.windowsArchived]: 12,
      [RUN_METRICS.windowsFailed]: 1,
      [RUN_METRICS.windowsAlreadyPresent]: 4,
      [RUN_METRICS.windowsDeferred]: 3,
      [RUN_METRICS.bytesArchived]: 123_456,
      [RUN_METRICS.windowsInvalid]: 1,
      [RUN_METRICS.windowsDeadLettered]: 2,
    });
    expect(doc).toEqual({
      _aws: {
        Timestamp: 1_795_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: "AtlasAuditArchiver",
            Dimensions: [["FunctionName"]],
            Metrics: [
              { Name: "WindowsArchived", Unit: "Count" },
              { Name: "WindowsFailed", Unit: "Count" },
              { Name: "WindowsAlreadyPresent", Unit: "Count" },
              { Name: "WindowsDeferred", Unit: "Count" },
              { Name: "BytesArchived", Unit: "Bytes" },
              { Name: "BacklogWindows", Unit: "Count" },
              { Name: "WindowsInvalid", Unit: "Count" },
              { Name: "SetupFailures", Unit: "Count" },
              { Name: "WindowsExpired", Unit: "Count" },
              { Name: "WindowsDeadLettered", Unit: "Count" },
              { Name: "BackfillWindowsLeft", Unit: "Count" },
              { Name: "DigestsSealed", Unit: "Count" },
              { Name: "DigestFailures", Unit: "Count" },
            ],
          },
        ],
      },
      FunctionName: "archiver-worker",
      RunId: "r-1",
      WindowsArchived: 12,
      WindowsFailed: 1,
      WindowsAlreadyPresent: 4,
      WindowsDeferred: 3,
      BytesArchived: 123_456,
      BacklogWindows: 0,
      WindowsInvalid: 1,
      SetupFailures: 0,
      WindowsExpired: 0,
      WindowsDeadLettered: 2,
      BackfillWindowsLeft: 0,
      DigestsSealed: 0,
      DigestFailures: 0,
    });
  });

  it("emits every metric the stack's alarms watch, declared once each, whatever values it is given", () => {
    const planner = {
      [RUN_METRICS.backlogWindows]: 40,
      [RUN_METRICS.windowsExpired]: 2,
      [RUN_METRICS.backfillWindowsLeft]: 900,
    };
    for (const values of [{}, planner, { [RUN_METRICS.setupFailures]: 1 }]) {
      const doc = invocationMetrics("ns", "fn", 0, "r-2", values);
      for (const name of Object.values(RUN_METRICS)) {
        expect(doc[name], name).toBe((values as Record<string, number>)[name] ?? 0);
      }
      const declared = (
        doc._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }
      ).CloudWatchMetrics[0]?.Metrics.map((m) => m.Name);
      expect(declared).toEqual(Object.values(RUN_METRICS));
    }
  });

  it("reports an invocation that could not start as SetupFailures 1, every window metric 0", () => {
    const doc = invocationMetrics("ns", "fn", 0, "r-3", { [RUN_METRICS.setupFailures]: 1 });
    expect(doc).toMatchObject({ RunId: "r-3", SetupFailures: 1, WindowsFailed: 0, WindowsArchived: 0 });
    const windowMetrics = Object.values(RUN_METRICS).filter((name) => name !== RUN_METRICS.setupFailures);
    expect(windowMetrics.map((name) => doc[name])).toEqual(windowMetrics.map(() => 0));
  });
});
