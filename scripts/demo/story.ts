/**
 * The demo's story, step by step, through the real command line against the loopback servers:
 * archive a few hours (an outage cuts one window's download), find the gap with `ls` (and what a
 * run would download with `plan`), heal it with a second `run` that downloads only that window, read it with `cat`, prove the archive
 * with `verify`, and seal and prove a day's signed digest when KMS (moto) is there.
 */

import { dueWindows, formatInstant, formatWindow, type TimeWindow } from "../../lambda/windows";
import { expectedLines } from "../../test/support/atlas-simulator";
import { type CommandResult, runShown, type ShowOptions } from "./cli";
import type { DemoServers } from "./servers";

/** The demo's workspaces: two in one Atlas project (one of them a single processor's log), one in another. */
export const WORKSPACES = [
  { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
  { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "billing", spName: "payments" },
  { groupId: "5f1e2d3c4b5a69788796a5b4", tenantName: "analytics-eu" },
] as const;

/** Hourly windows, 15 minutes of lag, six hours of lookback: five or six due windows a workspace. */
export const WINDOW = { minutes: 60, lagMinutes: 15, lookbackHours: 6 } as const;

/**
 * The parameter file the demo writes (`config/workspaces.json` of its working directory). Its
 * schedule is a `cron(...)` one: on a `rate(...)` schedule a run counts the windows that left the
 * lookback since the run one interval earlier as expired, and the demo has no earlier run.
 */
export function demoConfig(atlasBaseUrl: string, bucket: string): object {
  return {
    atlas: { baseUrl: atlasBaseUrl },
    archive: { bucket, prefix: "atlas/stream-audit/" },
    window: WINDOW,
    schedule: "cron(5 * * * ? *)",
    workspaces: WORKSPACES,
  };
}

/** The workspace whose download the outage cuts, and which `cat` reads back once healed. */
const STRICKEN = WORKSPACES[0];
/** Lines of the healed window `cat` shows. */
const CAT_LINES = 5;

/** What the story found: the window it cut and healed, and every step whose outcome was not the expected one. */
export interface StoryResult {
  readonly gap: TimeWindow;
  readonly problems: readonly string[];
}

/**
 * The window the outage cuts: a middle one of the workspace's due windows that has a few lines
 * (the simulator's logs are deterministic, about one window in five empty), so `ls` shows the
 * gap between archived windows and `cat` has something to show once it is healed.
 */
export function chooseGap(nowMs: number): TimeWindow {
  const due = dueWindows(nowMs, WINDOW);
  const inner = due.slice(1, -1);
  const lines = (w: TimeWindow) =>
    expectedLines({ ...STRICKEN, startDate: w.startMs / 1000, endDate: w.endMs / 1000 }).length;
  const withLines = inner.filter((w) => lines(w) > CAT_LINES);
  const pick = withLines.length > 0 ? withLines : inner.length > 0 ? inner : due;
  const gap = pick[Math.floor((pick.length - 1) / 2)];
  if (!gap) throw new Error(`no window is due at ${formatInstant(nowMs)} with ${JSON.stringify(WINDOW)}`);
  return gap;
}

/** Runs the story; `print` gets every line of it. */
export async function tellStory(
  servers: DemoServers,
  nowMs: number,
  print: (line: string) => void,
): Promise<StoryResult> {
  const problems: string[] = [];
  const now = formatInstant(nowMs);
  const group = STRICKEN.groupId;
  const gap = chooseGap(nowMs);
  const gapRange = ["--from", formatInstant(gap.startMs), "--to", formatInstant(gap.endMs)];
  const { atlas } = servers;

  const step = async (
    argv: readonly string[],
    expected: number,
    why: string,
    options?: ShowOptions,
  ): Promise<CommandResult> => {
    const result = await runShown(argv, print, options);
    print(`→ exit status ${result.status}${result.status === expected ? `: ${why}` : ""}`);
    if (result.status !== expected) {
      problems.push(`${argv[0]} exited ${result.status}, expected ${expected} (${why})`);
      print(`!! the demo expected exit status ${expected} here`);
    }
    print("");
    return result;
  };
  const heading = (n: number, title: string) => {
    print(`── ${n}. ${title} ${"─".repeat(Math.max(3, 72 - title.length))}`);
  };

  heading(1, "Archive the last six hours");
  print(`Atlas's connection drops in the middle of ${STRICKEN.tenantName}'s ${formatWindow(gap)} download`);
  print("(the simulator's reset-mid-body fault): an outage in the middle of a scheduled run.");
  print("");
  atlas.inject({
    fault: { kind: "reset-mid-body" },
    times: Number.POSITIVE_INFINITY,
    match: { groupId: group, tenantName: STRICKEN.tenantName, startDate: gap.startMs / 1000 },
  });
  await step(["run", "--now", now], 1, "one window failed; nothing was stored at its key");

  heading(2, "Find the gap");
  await step(
    ["ls", "--group", group, "--now", now],
    1,
    "ls found a gap (so it can run as a compliance check)",
  );
  await step(["plan", "--now", now], 1, "plan: a run now would download that window, and nothing else");

  heading(3, "Heal it with a second run");
  print("Atlas is back (the demo clears the fault). The run asks Atlas only for what is missing.");
  print("");
  atlas.clearFaults();
  const before = atlas.requests.length;
  await step(["run", "--now", now], 0, "every due window is archived");
  const downloads = atlas.requests.slice(before).filter((r) => r.endpoint === "download");
  print(
    `The simulator served ${downloads.length} download${downloads.length === 1 ? "" : "s"} in that run: ` +
      downloads.map((r) => `${r.tenantName} ${formatWindow(windowOf(r.query))}`).join(", "),
  );
  if (downloads.length !== 1 || downloads[0]?.query.startDate !== String(gap.startMs / 1000)) {
    problems.push(`the second run made ${downloads.length} downloads, expected only the gap's`);
  }
  print("");
  await step(["ls", "--group", group, "--now", now], 0, "no gap left");

  heading(4, "Read the healed window");
  await step(
    ["cat", "--group", group, "--tenant", STRICKEN.tenantName, ...gapRange],
    0,
    "the window's log lines",
    {
      headLines: CAT_LINES,
    },
  );

  heading(5, "Prove the archive intact");
  await step(["verify"], 0, "every object is a whole gzip matching the checksum S3 stored with it");
  if (servers.kms) {
    await sealAndProve(servers.kms.keyArn, nowMs, step, print);
  } else {
    print(
      'Signed digests: skipped, moto_server is not installed (run --digest-key needs KMS; pip install "moto[server]").',
    );
    print("");
  }
  return { gap, problems };
}

/** Step 5's second half: digests seal whole UTC days, so yesterday is backfilled, sealed and proven. */
async function sealAndProve(
  keyArn: string,
  nowMs: number,
  step: (
    argv: readonly string[],
    expected: number,
    why: string,
    options?: ShowOptions,
  ) => Promise<CommandResult>,
  print: (line: string) => void,
): Promise<void> {
  const today = Date.UTC(
    new Date(nowMs).getUTCFullYear(),
    new Date(nowMs).getUTCMonth(),
    new Date(nowMs).getUTCDate(),
  );
  const yesterday = ["--from", formatInstant(today - 86_400_000), "--to", formatInstant(today)];
  print("Signed digests (KMS on moto): a digest seals a whole UTC day, and today is not over, so");
  print("the demo backfills yesterday as a range and seals it with the KMS key.");
  print("");
  await step(["run", ...yesterday, "--digest-key", keyArn], 0, "yesterday archived and sealed", {
    hide: (line) => line.startsWith("  + "),
    hiddenWhat: "lines of archived windows",
  });
  print("An auditor needs only the public key and read access to the bucket:");
  print("");
  await step(
    ["public-key", "--digest-key", keyArn, "--out", "digest-public-key.pem"],
    0,
    "the PEM is written",
  );
  await step(
    ["verify", ...yesterday, "--public-key", "digest-public-key.pem"],
    0,
    "the day's digests prove its objects",
  );
}

/** The window of a download request's query (`startDate`, `endDate` in epoch seconds). */
function windowOf(query: Record<string, string>): TimeWindow {
  return { startMs: Number(query.startDate) * 1000, endMs: Number(query.endDate) * 1000 };
}
