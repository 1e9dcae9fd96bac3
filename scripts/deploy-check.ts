/**
 * The deploy check by hand (`npm run deploy-check`; CI runs it as `test/e2e/deploy.test.ts`):
 *
 * - **lint**: every template the project synthesizes, linted by cfn-lint (`scripts/deploy/lint.ts`).
 * - **deploy**: `cdk bootstrap`, `cdk deploy` into moto's server, the deployed resources inspected,
 *   the deployed code run against the Atlas simulator, `cdk destroy` (`scripts/deploy/moto-deploy.ts`).
 *
 * `npm run test:e2e` runs the same parts as tests; this script runs them one at a time, with the
 * CDK CLI's output shown (docs/development.md, "The deploy check").
 *
 * A part whose tool is missing here (cfn-lint, moto_server) prints one line and is skipped;
 * the exit status is 1 when a part that ran failed, 0 otherwise, 2 for a usage error.
 *
 * @example
 * ```sh
 * npm run deploy-check
 * npm run deploy-check -- --only deploy --keep   # keep the temporary directory (templates, cdk.out, code)
 * ```
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { motoAvailable } from "../test/support/moto";
import { lintTemplates, synthesizeConstruct, synthesizeVariants, synthesizeWithCli } from "./deploy/lint";
import { type StepResult, startMotoDeploy } from "./deploy/moto-deploy";
import { toolAnswers } from "./deploy/process";

// The AWS SDK's notice that its 2027 releases need Node.js 22 would follow every client's first
// call; every other warning is printed as Node prints it.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  const text = `${warning.name}: ${warning.message}`;
  if (!text.includes("NodeVersionSupportWarning")) process.stderr.write(`${text}\n`);
});

const USAGE = "usage: npm run deploy-check [-- --only lint|deploy] [--keep]";
const PARTS = ["lint", "deploy"] as const;
type Part = (typeof PARTS)[number];

/** How a part ended. */
type PartResult = "passed" | "failed" | "skipped";

/** The exit status for the parts' results: 1 if any failed, 0 otherwise (skipped parts pass). */
function exitStatus(results: readonly PartResult[]): number {
  return results.includes("failed") ? 1 : 0;
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function lintPart(workDir: string): Promise<PartResult> {
  if (!toolAnswers("cfn-lint")) {
    say("cfn-lint not found: skipping the template lint (pip install cfn-lint)");
    return "skipped";
  }
  const started = performance.now();
  const templates = [
    await synthesizeWithCli(join(workDir, "lint")),
    synthesizeConstruct(join(workDir, "lint")),
    ...(await synthesizeVariants(join(workDir, "lint"))),
  ];
  const synthMs = performance.now() - started;
  const outcome = await lintTemplates(templates);
  for (const failure of outcome.failures) say(`  ${failure}`);
  say(
    `lint: ${outcome.templates} templates (${templates.map((t) => t.name).join("; ")}), synthesized in ` +
      `${(synthMs / 1000).toFixed(1)} s, cfn-lint ${(outcome.ms / 1000).toFixed(1)} s: ` +
      (outcome.failures.length === 0 ? "no finding" : `${outcome.failures.length} findings`),
  );
  return outcome.failures.length === 0 ? "passed" : "failed";
}

async function deployPart(workDir: string): Promise<PartResult> {
  if (!motoAvailable()) {
    say('moto_server not found: skipping the deploy against moto (pip install "moto[server]==5.2.1")');
    return "skipped";
  }
  const session = await startMotoDeploy(join(workDir, "deploy"), "    cdk: ");
  let failed = false;
  const report = (step: string, result: StepResult<unknown>): boolean => {
    say(`  ${step} (${(result.ms / 1000).toFixed(1)} s): ${JSON.stringify(result.found)}`);
    for (const problem of result.problems) say(`    PROBLEM ${problem}`);
    failed ||= result.problems.length > 0;
    return result.problems.length === 0;
  };
  try {
    report("bootstrap", await session.bootstrap());
    if (!report("deploy", await session.deploy())) return "failed";
    report("inspect", await session.inspect());
    report("invoke", await session.invoke());
    report("destroy", await session.destroy());
  } finally {
    await session.close();
  }
  return failed ? "failed" : "passed";
}

async function main(argv: readonly string[]): Promise<number> {
  let values: { only?: string; keep?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { only: { type: "string" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    say(USAGE);
    return 0;
  }
  if (values.only !== undefined && !PARTS.includes(values.only as Part)) {
    process.stderr.write(`--only ${values.only}: must be ${PARTS.join(" or ")}\n${USAGE}\n`);
    return 2;
  }
  const parts = values.only ? [values.only as Part] : [...PARTS];
  const workDir = mkdtempSync(join(tmpdir(), "archiver-deploy-check-"));
  const results: PartResult[] = [];
  try {
    for (const part of parts) {
      say(`${part}:`);
      const started = performance.now();
      try {
        results.push(part === "lint" ? await lintPart(workDir) : await deployPart(workDir));
      } catch (error) {
        say(`${part} FAILED: ${(error as Error).stack ?? error}`);
        results.push("failed");
      }
      say(`${part}: ${results.at(-1)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    if (values.keep) say(`kept ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
  return exitStatus(results);
}

process.exitCode = await main(process.argv.slice(2));
