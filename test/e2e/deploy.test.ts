/**
 * The deploy check (issue 14): every template the project synthesizes linted by cfn-lint, then the
 * app really deployed, into moto's server, and its deployed code run (`scripts/deploy/`; what this
 * proves and what it does not: docs/development.md, "The deploy check").
 *
 * Each part needs a program from outside npm and prints one line and skips where it is missing:
 * cfn-lint, moto_server (`pip install "moto[server]==5.2.1" cfn-lint==1.51.0`). Here the lint takes
 * 30 to 50 s, the deploy part 35 to 45 s (2 shared cores); every child process has its bound
 * (`scripts/deploy/cdk.ts`, `scripts/deploy/lint.ts`), and each step's time is printed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  lintTemplates,
  synthesizeConstruct,
  synthesizeVariants,
  synthesizeWithCli,
} from "../../scripts/deploy/lint";
import {
  type Deployed,
  type Inspected,
  MOTO_UNIMPLEMENTED,
  type MotoDeploy,
  type StepResult,
  startMotoDeploy,
} from "../../scripts/deploy/moto-deploy";
import { toolAnswers } from "../../scripts/deploy/process";
import { describeWithMoto } from "../support/moto";

const workDir = mkdtempSync(join(tmpdir(), "archiver-e2e-deploy-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const took = (step: string, ms: number) =>
  process.stdout.write(`deploy check: ${step} in ${(ms / 1000).toFixed(1)} s\n`);

const cfnLint = toolAnswers("cfn-lint");
if (!cfnLint)
  process.stderr.write("cfn-lint not found: skipping the template lint (pip install cfn-lint==1.51.0)\n");

describe.runIf(cfnLint)("the synthesized templates", () => {
  it("pass cfn-lint in every region checked, with no error or warning but the ones .cfnlintrc ignores", async () => {
    const started = performance.now();
    const dir = join(workDir, "lint");
    const templates = [
      await synthesizeWithCli(dir),
      synthesizeConstruct(dir),
      ...(await synthesizeVariants(dir)),
    ];
    const outcome = await lintTemplates(templates);
    took(`lint of ${templates.length} templates`, performance.now() - started);
    expect(outcome.templates).toBe(9);
    expect(outcome.failures).toEqual([]);
  });
});

describeWithMoto("a deploy into moto's server", () => {
  let session: MotoDeploy;
  let inspected: Inspected;

  beforeAll(async () => {
    session = await startMotoDeploy(join(workDir, "deploy"));
  });
  afterAll(async () => {
    await session?.close();
  });

  function passed<T>(step: string, result: StepResult<T>): T {
    took(step, result.ms);
    expect(result.problems).toEqual([]);
    return result.found;
  }

  it("bootstraps the environment: the CDKToolkit stack and its staging bucket", async () => {
    expect(passed("cdk bootstrap", await session.bootstrap())).toEqual({
      toolkit: "CREATE_COMPLETE",
      stagingBucket: "cdk-hnb659fds-assets-123456789012-us-east-1",
    });
  });

  it("deploys the app's stack to CREATE_COMPLETE, with every resource created but those moto does not implement", async () => {
    const deployed: Deployed = passed("cdk deploy", await session.deploy());
    expect(deployed.status).toBe("CREATE_COMPLETE");
    expect(deployed.counts.created + deployed.counts.unnamed).toBe(deployed.counts.template);
    expect(deployed.counts.created).toBeGreaterThanOrEqual(27);
    for (const type of Object.keys(deployed.notCreated)) expect(MOTO_UNIMPLEMENTED).toContain(type);
  });

  it("holds the bucket, the FIFO window queue and its dead-letter queue, both functions with their deployed environment, and the worker's event source", async () => {
    inspected = passed("inspection", await session.inspect());
    expect(inspected.bucket.encryption).toBe("AES256");
    expect(inspected.queue).toMatchObject({ fifo: true });
    expect(inspected.queue.maxReceiveCount).toBeGreaterThan(0);
    expect(inspected.functions.planner.runtime).toBe("nodejs24.x");
    expect(Object.keys(inspected.functions.worker.environment)).toContain("ATLAS_SECRET_ARN");
    expect(inspected.functions.planner.environment.DIGEST_KEY_ARN).toMatch(
      /^arn:aws:kms:us-east-1:\d{12}:key\//,
    );
    expect(inspected.eventSource).toEqual({ batchSize: 10, stateAfter: "Disabled" });
    // moto's CloudFormation makes every key symmetric: the reason the invoke signs with another key.
    expect(inspected.digestKeyUsage).toBe("ENCRYPT_DECRYPT");
  });

  it("runs the deployed planner and worker code: every due window enqueued and archived, byte for byte what Atlas served", async () => {
    const invoked = passed("invoke", await session.invoke());
    expect(invoked.code.planner.files).toBeGreaterThanOrEqual(3); // index.js, its map, the parameter file, package.json
    expect(invoked.planner.due).toBeGreaterThan(0);
    expect(invoked.planner).toMatchObject({ enqueued: invoked.planner.due, failed: 0 });
    expect(invoked.worker.failures).toBe(0);
    expect(invoked.windows).toEqual({
      served: invoked.planner.due,
      archived: invoked.planner.due,
      identical: invoked.planner.due,
    });
    const downloads = session.simulator.requests.filter((r) => r.endpoint === "download" && r.status === 200);
    expect(downloads).toHaveLength(invoked.planner.due);
  });

  it("destroys the stack, leaving what it retains: the archive, access-log and query-result buckets with the archive in them, and the digest key", async () => {
    const destroyed = passed("cdk destroy", await session.destroy());
    expect(destroyed.retained.map((id) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual([
      "ArchiverAccessLogsBucket",
      "ArchiverAthenaQueryResults",
      "ArchiverBucket",
      "ArchiverDigestKey",
    ]);
    expect(destroyed.archivedObjectsLeft).toBeGreaterThan(0);
  });
});
