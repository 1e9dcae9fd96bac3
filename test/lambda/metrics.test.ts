import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../lambda/archive/run";
import { RUN_METRICS } from "../../lambda/config";
import { runMetrics, setupFailureMetrics } from "../../lambda/metrics";

const summary = {
  runId: "r-1",
  backlog: 4,
  totals: {
    due: 20,
    archived: 12,
    alreadyPresent: 4,
    failed: 1,
    deferred: 3,
    bytes: 123_456,
    invalid: 1,
    expired: 2,
  },
} as RunSummary;

describe("runMetrics", () => {
  it("is an embedded-metric-format document with every run metric and the FunctionName dimension", () => {
    const doc = runMetrics(summary, "AtlasAuditArchiver", "archiver-fn", 1_795_000_000_000);
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
            ],
          },
        ],
      },
      FunctionName: "archiver-fn",
      RunId: "r-1",
      WindowsArchived: 12,
      WindowsFailed: 1,
      WindowsAlreadyPresent: 4,
      WindowsDeferred: 3,
      BytesArchived: 123_456,
      BacklogWindows: 4,
      WindowsInvalid: 1,
      SetupFailures: 0,
      WindowsExpired: 2,
      WindowsDeadLettered: 0,
      BackfillWindowsLeft: 0,
    });
  });

  it("emits every metric the stack's alarms watch", () => {
    const doc = runMetrics(summary, "ns", "fn", 0);
    for (const name of Object.values(RUN_METRICS)) expect(doc[name]).toEqual(expect.any(Number));
  });

  it("reports a run that could not start as SetupFailures 1, every window metric 0", () => {
    const doc = setupFailureMetrics("ns", "fn", 0, "r-2");
    expect(doc).toMatchObject({ RunId: "r-2", SetupFailures: 1, WindowsFailed: 0, WindowsArchived: 0 });
    for (const name of Object.values(RUN_METRICS)) expect(doc[name]).toEqual(expect.any(Number));
  });
});
