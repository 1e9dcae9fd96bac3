import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectedLines } from "../support/atlas-simulator";
import { motoAvailable } from "../support/moto";

const ROOT = join(import.meta.dirname, "..", "..");
const GROUP = "32b6e34b3d91647abb20e7b8";
const WINDOW = /(\d{4}-\d{2}-\d{2}T\d{2}:00:00Z)\/(\d{4}-\d{2}-\d{2}T\d{2}:00:00Z)/;

interface Demo {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the demo as a user's `npx tsx scripts/demo.ts` does, but through `node_modules/.bin/tsx`
 * itself (what npx runs): npm's wrapper answers a Ctrl-C with its own status 130, whatever the
 * demo's. In its own process group, so that a SIGINT to the group is a terminal's Ctrl-C.
 */
function startDemo(...args: string[]): Demo {
  const child = spawn(join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/demo.ts", ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject).on("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}

/** The text of step `n` (from its heading to the next one). */
function section(output: string, n: number): string {
  const start = output.indexOf(`── ${n}. `);
  expect(start, `step ${n} is shown`).toBeGreaterThanOrEqual(0);
  const next = output.indexOf("── ", output.indexOf("\n", start));
  return output.slice(start, next < 0 ? undefined : next);
}

/** Whether something accepts connections at `url`'s port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(demo: Demo, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!demo.output().includes(text)) {
    if (Date.now() > deadline || demo.child.exitCode !== null) {
      throw new Error(`the demo did not print ${JSON.stringify(text)}:\n${demo.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `script` in bash (aliases on, as in an interactive shell). */
function bash(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `shopt -s expand_aliases\n${script}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject).on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("npm run demo", () => {
  it("tells the story: an outage leaves a gap, ls lists it, plan would fetch only it, a second run fills only it, cat reads it, verify passes", async () => {
    const demo = startDemo();
    const { code } = await demo.exited;
    const output = demo.output();
    expect(output, output).not.toMatch(/Warning|NodeVersionSupport|NOT_IMPLEMENTED/);
    expect(code, output).toBe(0);

    // 1: the outage cuts one window's download; the run says so and exits 1.
    const archive = section(output, 1);
    expect(archive).toContain(`$ atlas-audit-archiver run --now `);
    const failed = archive.match(new RegExp(`! ${WINDOW.source} FAILED ATLAS_NETWORK`));
    expect(failed, archive).not.toBeNull();
    const [, from = "", to = ""] = failed ?? [];
    const gap = `${from}/${to}`;
    expect(archive.match(/ FAILED /g)).toHaveLength(1);
    expect(archive).toContain("→ exit status 1");

    // 2: ls lists exactly that window as the gap, and exits 1.
    const listing = section(output, 2);
    expect(listing).toContain(`$ atlas-audit-archiver ls --group ${GROUP} --now `);
    expect(listing).toContain(`GAP ${gap}  (1 window(s) missing)`);
    expect(listing).toContain("GAPS: 1 due window(s) missing");
    expect(listing).toContain("→ exit status 1");
    // ... and plan says a run now would download that window and nothing else, without doing it.
    const [, planned = ""] = listing.split("$ atlas-audit-archiver plan --now ");
    expect(planned).toContain(`  MISSING ${gap}`);
    expect(planned.match(/^ {2}MISSING /gm)).toHaveLength(1);
    expect(planned).toMatch(/^MISSING: a run now would download 1 window\(s\)[.,]/m);
    expect(planned).toContain("→ exit status 1: plan");

    // 3: the second run downloads that window only (the simulator's count), then ls is clean.
    const heal = section(output, 3);
    const [rerun = "", relisting = ""] = heal.split("$ atlas-audit-archiver ls");
    const totals = rerun.match(
      /archived 1 \(.+\), already present (\d+), failed 0, deferred 0, of (\d+) due/,
    );
    expect(totals, rerun).not.toBeNull();
    expect(Number(totals?.[2])).toBe(Number(totals?.[1]) + 1);
    expect(rerun.match(/^ {2}\+ /gm)).toHaveLength(1);
    expect(rerun).toContain(`  + ${gap} `);
    expect(rerun).toContain(`The simulator served 1 download in that run: prod-workspace ${gap}`);
    expect(rerun).toContain("→ exit status 0");
    expect(relisting).not.toContain("GAP");
    expect(relisting).toMatch(/OK: \d+ window\(s\), .* no gap\./);
    expect(relisting).toContain("→ exit status 0");

    // 4: cat shows the healed window's first lines, as Atlas sent them, and how many it cut.
    const read = section(output, 4);
    expect(read).toContain(
      `$ atlas-audit-archiver cat --group ${GROUP} --tenant prod-workspace --from ${from} --to ${to}`,
    );
    const lines = expectedLines({
      groupId: GROUP,
      tenantName: "prod-workspace",
      startDate: Date.parse(from) / 1000,
      endDate: Date.parse(to) / 1000,
    });
    const shown = read.split("\n").filter((line) => line.startsWith("{"));
    expect(shown).toEqual(lines.slice(0, 5));
    if (lines.length > 5) expect(read).toContain(`… ${lines.length - 5} more line`);
    expect(read).toContain("→ exit status 0");

    // 5: verify passes; with moto, yesterday is sealed and proven with the public key alone.
    const prove = section(output, 5);
    expect(prove).toMatch(
      /\$ atlas-audit-archiver verify\n(?:PENDING .*\n)*OK: \d+ object\(s\) in s3:\/\/demo-audit-archive\//,
    );
    expect(prove).not.toContain("!!");
    if (motoAvailable()) {
      expect(prove).toContain("digests: 3 sealed, 0 already sealed, 0 waiting, 0 failed");
      expect(prove).toMatch(
        /OK: \d+ object\(s\) .* verified against 3 digest\(s\), signatures checked with the public key/,
      );
    } else {
      expect(prove).toContain("Signed digests: skipped, moto_server is not installed");
    }
    expect(output).toMatch(/The story took [\d.]+ s, servers included\./);
  }, 120_000);

  it("--keep prints the environment and the commands, which work by hand, stays up until SIGINT, then stops every server and exits 0", async () => {
    const demo = startDemo("--keep");
    try {
      await until(demo, "Press Ctrl-C here to stop the servers.", 90_000);
    } catch (err) {
      process.kill(-(demo.child.pid as number), "SIGKILL");
      throw err;
    }
    const output = demo.output();
    const guide = output.slice(output.indexOf("── The servers stay up"));
    const setup = guide.match(/^(cd |unset |export |alias ).*$/gm) ?? [];
    const exported = Object.fromEntries(
      setup
        .filter((l) => l.startsWith("export "))
        .map((l) =>
          l
            .slice(7)
            .replace(/ {3}#.*$/, "")
            .split("="),
        ),
    );
    for (const name of ["ATLAS_CLIENT_ID", "ATLAS_CLIENT_SECRET", "AWS_REGION", "AWS_ENDPOINT_URL_S3"]) {
      expect(exported, name).toHaveProperty(name);
    }
    const urls = [
      output.match(/Atlas simulator +(\S+)/)?.[1] ?? "",
      exported.AWS_ENDPOINT_URL_S3 ?? "",
      ...(exported.AWS_ENDPOINT_URL_KMS ? [exported.AWS_ENDPOINT_URL_KMS] : []),
    ];
    const workdir = setup.find((l) => l.startsWith("cd "))?.slice(3) ?? "";
    const commands = (guide.match(/^atlas-audit-archiver \S+.*$/gm) ?? []).map((l) =>
      l.replace(/ {3}#.*$/, ""),
    );
    expect(commands.map((c) => c.split(" ")[1])).toEqual(
      expect.arrayContaining(["ls", "cat", "get", "verify", "report"]),
    );

    // Still up after the story, and the printed lines work as a user would paste them.
    await new Promise((r) => setTimeout(r, 500));
    expect(demo.child.exitCode).toBeNull();
    for (const url of urls) expect(await listening(url), url).toBe(true);
    const cat = commands.find((c) => c.startsWith("atlas-audit-archiver cat ")) ?? "";
    const verify =
      commands.find((c) => c.startsWith("atlas-audit-archiver verify ")) ?? "atlas-audit-archiver verify";
    const byHand = await bash(`set -e\n${setup.join("\n")}\n${cat} | head -n 3\n${verify}`);
    expect(byHand.status, byHand.stderr).toBe(0);
    expect(byHand.stdout.split("\n").filter((l) => l.startsWith('{"ts":'))).toHaveLength(3);
    expect(byHand.stdout).toMatch(/OK: \d+ object\(s\)/);

    // Ctrl-C: SIGINT to the process group, as a terminal sends it.
    process.kill(-(demo.child.pid as number), "SIGINT");
    const { code, signal } = await demo.exited;
    // The demo answers SIGINT with 0 once its story is done; tsx's wrapper, which gets the same
    // SIGINT from the group, may answer first with 130 (the shell's code for Ctrl-C): seen on a
    // clean clone. Either way the cleanup below must have happened.
    expect(signal).toBeNull();
    expect([0, 130]).toContain(code);
    expect(demo.output()).toContain("Stopping the servers.");
    for (const url of urls) expect(await listening(url), url).toBe(false);
    expect(existsSync(workdir)).toBe(false);
    // Nothing of the demo's process group is left running.
    expect(() => process.kill(-(demo.child.pid as number), 0)).toThrow(/ESRCH/);
  }, 150_000);
});
