/**
 * `npm run demo [-- --keep]`: the whole job on this machine, with no AWS account and no Atlas
 * credentials. Starts the Atlas simulator, the project's S3 test server and, when `moto_server`
 * is installed, moto for KMS; then tells the story a compliance user buys with the real command
 * line (see `demo/story.ts`): archive, a gap, healed, read back, proven. With `--keep` the
 * servers stay up, and the demo prints the environment and the commands to try every command by
 * hand, until Ctrl-C (SIGINT) or SIGTERM.
 *
 * Exit status: 0 when every step ended as the story expects, 1 otherwise, 2 for an unknown option.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatInstant } from "../lambda/windows";
import { PROGRAM, shellWord } from "./demo/cli";
import { type DemoServers, startDemoServers } from "./demo/servers";
import { demoConfig, tellStory, WORKSPACES } from "./demo/story";

const USAGE = `Usage: npm run demo [-- --keep]

  --keep   keep the servers up after the story and print how to use them by hand, until Ctrl-C`;

/** Variables of the caller's environment that would send a command elsewhere than the demo's servers. */
const FOREIGN = [
  "ARCHIVE_BUCKET",
  "ATLAS_BASE_URL",
  "ATLAS_PUBLIC_KEY",
  "ATLAS_PRIVATE_KEY",
  "DIGEST_KEY_ARN",
  "AWS_PROFILE",
  "AWS_SESSION_TOKEN",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_KMS",
] as const;

const args = process.argv.slice(2);
if (args.some((a) => a === "-h" || a === "--help")) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.filter((a) => a !== "--keep");
if (unknown.length > 0) {
  console.error(`demo: unknown option ${JSON.stringify(unknown[0])}\n${USAGE}`);
  process.exit(2);
}
const keep = args.includes("--keep");
// The AWS SDK's notice that its 2027 releases need Node.js 22, before any client is built: this
// variable silences that one notice only; every other warning still shows.
if (!process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
}
const print = (line: string) => process.stdout.write(`${line}\n`);
const startedAt = Date.now();
const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const callerCwd = process.cwd();

const servers = await startDemoServers();
const workdir = await mkdtemp(join(tmpdir(), "atlas-audit-archiver-demo-"));
let stopping = false;
/** Stops the servers and removes the working directory (once). */
const cleanUp = async () => {
  if (stopping) return;
  stopping = true;
  process.chdir(callerCwd);
  await Promise.allSettled([servers.close(), rm(workdir, { recursive: true, force: true })]);
};
const interrupted = () => {
  void cleanUp().finally(() => process.exit(130));
};
process.once("SIGINT", interrupted).once("SIGTERM", interrupted);

let status = 1;
try {
  await mkdir(join(workdir, "config"));
  await writeFile(
    join(workdir, "config", "workspaces.json"),
    `${JSON.stringify(demoConfig(servers.atlas.baseUrl, servers.s3.bucket), null, 2)}\n`,
  );
  // The commands run here, as a user's would: the parameter file is found at its default path.
  process.chdir(workdir);
  const unset = FOREIGN.filter((name) => process.env[name] !== undefined);
  for (const name of FOREIGN) delete process.env[name];
  Object.assign(process.env, servers.environment);

  const nowMs = Math.floor(Date.now() / 1000) * 1000;
  printIntro(servers, workdir, nowMs);
  const story = await tellStory(servers, nowMs, print);
  status = story.problems.length === 0 ? 0 : 1;
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  if (status === 0) print(`The story took ${seconds} s, servers included.`);
  else print(`The story took ${seconds} s and did not go as expected: ${story.problems.join("; ")}.`);

  if (keep) {
    printHandGuide(servers, workdir, root, unset, story.gap);
    await new Promise<void>((resolve) => {
      process.removeListener("SIGINT", interrupted).removeListener("SIGTERM", interrupted);
      process.once("SIGINT", resolve).once("SIGTERM", resolve);
    });
    print("\nStopping the servers.");
  } else {
    print("");
    print("The servers are stopped. To keep them up and try every command by hand: npm run demo -- --keep");
  }
} finally {
  await cleanUp();
}
process.exitCode = status;

function printIntro(s: DemoServers, dir: string, nowMs: number): void {
  print("atlas-audit-archiver demo: the whole job on this machine, no AWS account, no Atlas credentials.");
  print("");
  print(`  Atlas simulator        ${s.atlas.baseUrl}`);
  print(`  S3 test server         ${s.s3.endpoint} (bucket ${s.s3.bucket})`);
  print(
    s.kms
      ? `  KMS (moto)             ${s.kms.moto.endpoint} (digest key ${s.kms.keyArn})`
      : "  KMS                    none (moto_server is not installed): digests are skipped",
  );
  print(`  Working directory      ${dir}`);
  print(
    `  Parameter file         config/workspaces.json: ${WORKSPACES.length} workspaces in 2 Atlas projects, hourly windows, 6 h lookback`,
  );
  print(
    `  Clock                  --now ${formatInstant(nowMs)} on run and ls, so every step sees the same due windows`,
  );
  print("");
}

/** The `--keep` guide: the environment as `export` lines, then a command of each kind to try. */
function printHandGuide(
  s: DemoServers,
  dir: string,
  projectRoot: string,
  unset: readonly string[],
  gap: { readonly startMs: number; readonly endMs: number },
): void {
  const group = WORKSPACES[0].groupId;
  const tenant = WORKSPACES[0].tenantName;
  const from = formatInstant(gap.startMs - 3_600_000);
  const to = formatInstant(gap.endMs + 3_600_000);
  print("");
  print(`── The servers stay up: try every command by hand ${"─".repeat(30)}`);
  print("In another terminal:");
  print("");
  print(`cd ${shellWord(dir)}`);
  if (unset.length > 0) print(`unset ${unset.join(" ")}`);
  for (const [name, value] of Object.entries(s.environment)) print(`export ${name}=${shellWord(value)}`);
  if (s.kms)
    print(`export DIGEST_KEY_ARN=${shellWord(s.kms.keyArn)}   # run then seals the days it completes`);
  print(`alias ${PROGRAM}=${shellWord(`npm exec --prefix ${shellWord(projectRoot)} -- ${PROGRAM}`)}`);
  print("");
  // Once digests exist, verify and report prove them, and fail without a key to check them with.
  const key = s.kms ? " --public-key digest-public-key.pem" : "";
  const commands: Array<[string, string]> = [
    [`ls --group ${group}`, "what is archived and what is missing, now"],
    [`cat --group ${group} --tenant ${tenant} --from ${from} --to ${to}`, "three hours of log lines"],
    [`get --group ${group} --from ${from} --to ${to} --out ./audit`, "download them (resumable)"],
    [`verify${key}`, "re-read and check every object"],
    [`report${key} --out report.html`, "the coverage report, one HTML file"],
    ["run", "archive what became due since"],
  ];
  if (s.kms) commands.push([`verify --digest-key "$DIGEST_KEY_ARN"`, "prove the sealed days through KMS"]);
  for (const [command, what] of commands) print(`${PROGRAM} ${command}   # ${what}`);
  print("");
  print(`${PROGRAM} --help and ${PROGRAM} <command> --help say more.`);
  print("Press Ctrl-C here to stop the servers.");
}
