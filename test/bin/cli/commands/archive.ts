/**
 * The archive the reader commands' tests read: ten windows (five of each configured workspace)
 * archived into the loopback S3 server, a parameter file pointing at them, and the command line
 * run in process (or spawned) against it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import type { ArchiverConfig, Workspace } from "../../../../lambda/config";
import { dueWindows, type TimeWindow, toEpochSeconds } from "../../../../lambda/windows";
import {
  type ArchiveFixture,
  GROUP,
  startArchiveFixture,
  testConfig,
} from "../../../support/archive-fixture";
import { expectedLines } from "../../../support/atlas-simulator";
import { type CliResult, runCli, runMain } from "../../../support/cli";

/** The instant the archive was made at, and the readers' `--now`. */
export const NOW = "2026-11-29T02:20:00Z";
/** The five windows of each workspace, across the day boundary. */
export const RANGE = ["--from", "2026-11-28T21:00:00Z", "--to", "2026-11-29T02:00:00Z"];
/** 1970 through 9999: the widest range there is. */
export const WIDEST = ["--from", "1970-01-01", "--to", "9999-12-31"];
/** Enough lines that `cat` outlives a pipe buffer (64 KiB) many times over. */
const LINES = { linesPerWindow: () => 1_500 };

/** The archive, and the command line pointed at it. */
export interface ReaderArchive {
  readonly fixture: ArchiveFixture;
  readonly config: ArchiverConfig;
  /** A directory without a default parameter file, where the commands run. */
  readonly dir: string;
  /** The parameter file: bucket, prefix, window settings and workspaces of the archive. */
  readonly configFile: string;
  /** The due windows at {@link NOW}. */
  windows(): TimeWindow[];
  /** `command --config <the parameter file> --group GROUP ...rest`. */
  args(command: string, ...rest: string[]): string[];
  /** What the simulator served for one window of `workspace`, as `cat` prints it. */
  text(workspace: Workspace, window: TimeWindow): string;
  /** Runs the command line in this process (`tty`: stderr passes for a terminal). */
  cli(args: readonly string[], options?: { readonly tty?: boolean }): Promise<CliResult>;
  /** Runs the real executable; `pipeTo` pipes its stdout through a shell command. */
  spawn(args: readonly string[], pipeTo?: string): Promise<CliResult>;
  close(): Promise<void>;
}

export async function startReaderArchive(): Promise<ReaderArchive> {
  const fixture = await startArchiveFixture({ simulator: LINES });
  const config = testConfig(fixture.sim.baseUrl);
  expect((await fixture.run(config, Date.parse(NOW))).totals.archived).toBe(10);
  const dir = await mkdtemp(join(tmpdir(), "cli-reader-"));
  const configFile = join(dir, "workspaces.json");
  await writeFile(
    configFile,
    JSON.stringify({
      archive: { bucket: fixture.s3server.bucket, prefix: config.archive.prefix },
      window: config.window,
      workspaces: config.workspaces,
    }),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ENDPOINT_URL_S3: fixture.s3server.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    // Node 20 is supported by this project; the SDK's notice about Node 22 would clutter stderr.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  return {
    fixture,
    config,
    dir,
    configFile,
    windows: () => dueWindows(Date.parse(NOW), config.window),
    args: (command, ...rest) => [command, "--config", configFile, "--group", GROUP, ...rest],
    text: (workspace, window) =>
      expectedLines({ ...workspace, ...toEpochSeconds(window) }, LINES)
        .map((l) => `${l}\n`)
        .join(""),
    cli: (args, options = {}) => runMain(args, { env, cwd: dir, ...options }),
    spawn: (args, pipeTo) => runCli(args, { env, cwd: dir, ...(pipeTo ? { pipeTo } : {}) }),
    async close() {
      await fixture.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The archive of a test file: started before its first test, closed after its last. */
export function useReaderArchive(): ReaderArchive {
  const archive = {} as ReaderArchive;
  beforeAll(async () => {
    Object.assign(archive, await startReaderArchive());
  });
  afterAll(async () => {
    await archive.close?.();
  });
  return archive;
}
