/**
 * `npm run demo`: the whole job on this machine, with no AWS account and no Atlas credentials.
 * Starts the Atlas simulator and a local S3-compatible server, runs one archive cycle with the
 * real command line over a few workspaces, then lists what landed in the bucket.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SERVICE_ACCOUNT, startAtlasSimulator } from "../test/support/atlas-simulator";
import { startS3Server } from "../test/support/s3-server";

const workspaces = [
  { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
  { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "billing", spName: "payments" },
  { groupId: "5f1e2d3c4b5a69788796a5b4", tenantName: "analytics-eu" },
];

const sim = await startAtlasSimulator();
const s3 = await startS3Server({ bucket: "demo-audit-archive" });
const dir = await mkdtemp(join(tmpdir(), "atlas-audit-archiver-demo-"));
let status = 1;
try {
  const configFile = join(dir, "workspaces.json");
  await writeFile(
    configFile,
    JSON.stringify(
      {
        atlas: { baseUrl: sim.baseUrl },
        archive: { bucket: s3.bucket, prefix: "atlas/stream-audit/" },
        window: { minutes: 60, lagMinutes: 15, lookbackHours: 6 },
        workspaces,
      },
      null,
      2,
    ),
  );
  console.log(`Atlas simulator: ${sim.baseUrl}`);
  console.log(`S3-compatible server: ${s3.endpoint} (bucket ${s3.bucket})`);
  console.log(`Parameter file: ${configFile}\n`);
  console.log("$ atlas-audit-archiver run --config <file>\n");

  status = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/atlas-audit-archiver.js", "run", "--config", configFile], {
      stdio: "inherit",
      env: {
        ...process.env,
        ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
        ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
      },
    });
    child.on("error", reject).on("exit", (code) => resolve(code ?? 1));
  });

  const keys = await s3.keys();
  console.log(`\nObjects in s3://${s3.bucket}/ (${keys.length}):`);
  for (const key of keys) {
    const object = await s3.getObject(key);
    const sha256 = createHash("sha256").update(object.body).digest("hex");
    console.log(`  ${key}  ${object.contentLength} B  sha256 ${sha256.slice(0, 12)}…`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await sim.close();
  await s3.close();
}
process.exitCode = status;
