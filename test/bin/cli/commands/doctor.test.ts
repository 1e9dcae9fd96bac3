import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DoctorReport } from "../../../../lambda/doctor";
import { GROUP } from "../../../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  type SimulatorOptions,
  startAtlasSimulator,
} from "../../../support/atlas-simulator";
import { type CliResult, runCli, runMain } from "../../../support/cli";
import { describeWithMoto, type MotoServer, startMoto } from "../../../support/moto";
import { type S3TestServer, startS3Server } from "../../../support/s3-server";

const NOW = "2026-11-28T15:20:00Z";
const PROD = { groupId: GROUP, tenantName: "prod-workspace" };
const SERVICE_ACCOUNT = {
  ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
  ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cli-doctor-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The line of the check whose subject starts with `subject`. */
function line(result: CliResult, subject: string): string {
  const found = result.stdout.split("\n").find((l) => l.slice(5).startsWith(subject));
  if (found === undefined) throw new Error(`no line for ${subject} in:\n${result.stdout}`);
  return found;
}

/** The line after the check's own: its fix. */
function fixOf(result: CliResult, subject: string): string {
  const lines = result.stdout.split("\n");
  const at = lines.indexOf(line(result, subject));
  return lines[at + 1]?.startsWith("     fix: ") ? (lines[at + 1] as string) : "";
}

async function writeConfig(content: unknown): Promise<string> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("atlas-audit-archiver doctor", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;

  afterEach(async () => {
    await sim?.close();
    await s3?.close();
  });

  async function start(options: SimulatorOptions = {}, workspaces = [PROD]): Promise<string> {
    sim = await startAtlasSimulator({ workspaces: [PROD], ...options });
    s3 = await startS3Server();
    return writeConfig({
      atlas: { baseUrl: "https://cloud.mongodb.com" },
      archive: { prefix: "atlas/stream-audit/" },
      workspaces,
    });
  }

  function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ARCHIVE_BUCKET: s3.bucket,
      ATLAS_BASE_URL: sim.baseUrl,
      ...SERVICE_ACCOUNT,
      ...extra,
    };
  }

  const doctor = (config: string, extra: Record<string, string | undefined> = {}, args: string[] = []) =>
    runMain(["doctor", "--config", config, "--now", NOW, ...args], { env: env(extra), cwd: dir });

  it("as the real executable: passes a good setup line by line, exits 0, stores nothing and revokes its token", async () => {
    const config = await start();
    const result = await runCli(["doctor", "--config", config, "--now", NOW], { env: env() });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const subjects = result.stdout
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("     fix: "))
      .map((l) => l.slice(0, 4) + l.slice(4).split(":")[0]);
    expect(subjects).toEqual([
      `ok   parameter file ${config}`,
      "ok   service account",
      `ok   workspace ${GROUP}/prod-workspace`,
      "ok   Atlas API access list",
      `ok   bucket ${s3.bucket}`,
      "ok   region",
      "note default encryption",
      "note versioning",
      "note Object Lock",
      `ok   write permission under s3`,
      "skip digest key",
      "doctor",
    ]);
    expect(line(result, "service account")).toContain("Atlas issued an access token");
    // The probe: one minute at the end of the latest due window (15:20 with a 15-minute lag: 14:00-15:00).
    const probes = sim.requests.filter((r) => r.endpoint === "download" && r.status === 200);
    expect(probes.map((r) => r.query)).toEqual([
      {
        startDate: String(Date.parse("2026-11-28T14:59:00Z") / 1000),
        endDate: String(Date.parse("2026-11-28T15:00:00Z") / 1000),
      },
    ]);
    expect(line(result, `workspace ${GROUP}/prod-workspace`)).toMatch(
      /bytes of gzip, read and discarded, not stored/,
    );
    // The write probe was refused as BadDigest after authorization: nothing under the prefix.
    expect(line(result, "write permission")).toContain("refused as BadDigest");
    expect(s3.operationsOf("PutObject").map((o) => o.status)).toEqual([400]);
    expect(await s3.keys()).toEqual([]);
    // The S3 test server does not implement these settings: notes, not failures.
    expect(line(result, "default encryption")).toContain("does not report it (NotImplemented)");
    expect(line(result, "versioning")).toContain("never enabled");
    expect(sim.liveTokens()).toBe(0);
    expect(result.stdout).toMatch(
      /doctor: no check failed \(11 checks: 7 ok, 3 notes, 0 failed, 1 skipped\)\n$/,
    );
  });

  it("checks an API key with a Digest round trip, and --json gives every check", async () => {
    const config = await start();
    const result = await doctor(
      config,
      {
        ATLAS_CLIENT_ID: undefined,
        ATLAS_CLIENT_SECRET: undefined,
        ATLAS_PUBLIC_KEY: DEFAULT_API_KEY.publicKey,
        ATLAS_PRIVATE_KEY: DEFAULT_API_KEY.privateKey,
      },
      ["--json"],
    );
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ["config", "ok"],
      ["credentials", "ok"],
      ["workspace", "ok"],
      ["access-list", "ok"],
      ["bucket", "ok"],
      ["bucket-region", "ok"],
      ["bucket-encryption", "warn"],
      ["bucket-versioning", "warn"],
      ["bucket-object-lock", "warn"],
      ["write", "ok"],
      ["kms", "skip"],
    ]);
    expect(report.checks[1]).toMatchObject({ subject: "API key", detail: expect.stringContaining("Digest") });
    // One challenge, one signed request: the workspace's probe is the credentials' round trip.
    expect(sim.requests.filter((r) => r.endpoint === "download").map((r) => [r.auth, r.status])).toEqual([
      ["none", 401],
      ["digest", 200],
    ]);
    for (const check of report.checks) expect(check.ms).toBeGreaterThanOrEqual(0);
  });

  it("names a parameter file that does not validate, and skips what depends on it", async () => {
    await start();
    const config = await writeConfig({ atlas: { baseUrl: "https://cloud.mongodb.com" }, workspaces: [] });
    const result = await doctor(config);
    expect(result.status).toBe(1);
    expect(line(result, `parameter file ${config}`)).toMatch(/^FAIL .*workspaces/);
    expect(fixOf(result, `parameter file ${config}`)).toContain("fix the configuration as the message says");
    expect(result.stdout).toMatch(/skip credentials: not checked: the configuration is unusable/);
    expect(sim.requests).toHaveLength(0);
  });

  it("names credentials Atlas refuses, and skips the workspaces", async () => {
    const config = await start();
    const result = await doctor(config, { ATLAS_CLIENT_SECRET: "mdb_sa_sk_wrong" });
    expect(result.status).toBe(1);
    expect(line(result, "service account")).toMatch(/^FAIL service account: Atlas answered 401/);
    expect(fixOf(result, "service account")).toContain("client id and secret");
    expect(line(result, `workspace ${GROUP}/prod-workspace`)).toContain(
      "not checked: the service account failed",
    );
    expect(line(result, "Atlas API access list")).toMatch(/^skip/);
    expect(result.stdout).not.toContain("mdb_sa_sk_wrong");
  });

  it("names missing credentials", async () => {
    const config = await start();
    const result = await doctor(config, { ATLAS_CLIENT_ID: undefined, ATLAS_CLIENT_SECRET: undefined });
    expect(result.status).toBe(1);
    expect(line(result, "credentials")).toMatch(/^FAIL credentials: No Atlas credentials/);
    expect(fixOf(result, "credentials")).toContain("ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET");
  });

  it("names a workspace Atlas does not know, and a project where the key lacks the role (403)", async () => {
    const other = { groupId: GROUP, tenantName: "no-such-workspace" };
    const third = { groupId: "5f1e2d3c4b5a69788796a5b4", tenantName: "prod" };
    const config = await start({ workspaces: [PROD, third] }, [PROD, other, third]);
    sim.inject({
      fault: { kind: "status", status: 403, errorCode: "USER_CANNOT_ACCESS_ORGANIZATION_OR_GROUP" },
      match: { groupId: third.groupId },
    });
    const result = await doctor(config);
    expect(result.status).toBe(1);
    expect(line(result, `workspace ${GROUP}/prod-workspace`)).toMatch(/^ok/);
    expect(line(result, `workspace ${GROUP}/no-such-workspace`)).toMatch(
      /^FAIL .*404 STREAM_TENANT_NOT_FOUND_FOR_NAME/,
    );
    expect(fixOf(result, `workspace ${GROUP}/no-such-workspace`)).toContain("check groupId and tenantName");
    expect(line(result, `workspace ${third.groupId}/prod`)).toMatch(
      /^FAIL .*403 USER_CANNOT_ACCESS_ORGANIZATION_OR_GROUP/,
    );
    expect(fixOf(result, `workspace ${third.groupId}/prod`)).toContain(
      `roles on project ${third.groupId}: Organization Stream Processing Admin`,
    );
    // Atlas answered (a role, a name): the caller's address passed the access list.
    expect(line(result, "Atlas API access list")).toMatch(/^ok/);
  });

  it("names the IP access list plainly when Atlas refuses the caller's address", async () => {
    const config = await start({ accessList: ["203.0.113.7"] });
    const result = await doctor(config);
    expect(result.status).toBe(1);
    expect(line(result, "service account")).toMatch(/^ok/);
    expect(line(result, `workspace ${GROUP}/prod-workspace`)).toContain("403 IP_ADDRESS_NOT_ON_ACCESS_LIST");
    expect(line(result, "Atlas API access list")).toBe(
      "FAIL Atlas API access list: Atlas refuses this caller's IP address (IP_ADDRESS_NOT_ON_ACCESS_LIST: IP address " +
        "127.0.0.1 is not allowed to access this resource.)",
    );
    expect(fixOf(result, "Atlas API access list")).toContain(
      "API access list of the service account or API key",
    );
  });

  it("names a missing bucket and skips its settings and the write probe", async () => {
    const config = await start();
    const result = await doctor(config, { ARCHIVE_BUCKET: "no-such-bucket" });
    expect(result.status).toBe(1);
    expect(line(result, "bucket no-such-bucket")).toBe(
      "FAIL bucket no-such-bucket: bucket no-such-bucket does not exist (NoSuchBucket)",
    );
    expect(fixOf(result, "bucket no-such-bucket")).toContain("ARCHIVE_BUCKET");
    expect(line(result, "write permission")).toMatch(/^skip/);
    expect(s3.operationsOf("PutObject")).toHaveLength(0);
  });

  it("names a write permission S3 denies (403 before the body is checked)", async () => {
    const config = await start();
    s3.inject({ op: "PutObject", status: 403, code: "AccessDenied" });
    const result = await doctor(config);
    expect(result.status).toBe(1);
    expect(line(result, "write permission")).toMatch(
      /^FAIL .*PutObject under atlas\/stream-audit\/ is denied \(AccessDenied/,
    );
    expect(fixOf(result, "write permission")).toContain(
      `s3:PutObject on arn:aws:s3:::${s3.bucket}/atlas/stream-audit/*`,
    );
    expect(await s3.keys()).toEqual([]);
  });

  describeWithMoto("on moto (bucket settings, KMS)", () => {
    let moto: MotoServer;
    let kms: KMSClient;
    let motoS3: S3Client;
    let signingKey: string;
    let symmetricKey: string;
    beforeAll(async () => {
      moto = await startMoto();
      const client = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
      kms = new KMSClient(client);
      motoS3 = new S3Client({ ...client, forcePathStyle: true });
      signingKey = (
        await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }))
      ).KeyMetadata?.Arn as string;
      symmetricKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
      await motoS3.send(
        new CreateBucketCommand({ Bucket: "locked-archive", ObjectLockEnabledForBucket: true }),
      );
      await motoS3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: "locked-archive",
          ObjectLockConfiguration: {
            ObjectLockEnabled: "Enabled",
            Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 365 } },
          },
        }),
      );
      await motoS3.send(
        new PutBucketEncryptionCommand({
          Bucket: "locked-archive",
          ServerSideEncryptionConfiguration: {
            Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
          },
        }),
      );
    }, 30_000);
    afterAll(async () => {
      kms?.destroy();
      motoS3?.destroy();
      await moto?.close();
    });

    const onMoto = (extra: Record<string, string | undefined> = {}) => ({
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_ENDPOINT_URL_KMS: moto.endpoint,
      ARCHIVE_BUCKET: "locked-archive",
      ...extra,
    });

    it("reads the bucket's settings, signs with the digest key and verifies it offline; moto stores the write probe, which is said and deleted", async () => {
      const config = await start();
      const result = await doctor(config, onMoto(), ["--digest-key", signingKey]);
      expect(result.stdout).not.toContain("FAIL");
      expect(result.status).toBe(0);
      expect(line(result, "default encryption")).toBe("ok   default encryption: SSE-S3 (AES256)");
      expect(line(result, "versioning")).toBe("ok   versioning: enabled");
      expect(line(result, "Object Lock")).toBe("ok   Object Lock: enabled: COMPLIANCE, 365 days by default");
      expect(line(result, `digest key ${signingKey}`)).toBe(
        `ok   digest key ${signingKey}: ECC_NIST_P256 SIGN_VERIFY; signed a test message, verified offline with its public key`,
      );
      // moto does not verify x-amz-checksum-crc32 (S3 and the S3 test server refuse it): the probe was
      // stored, which the line says; it was deleted (a delete marker in this versioned bucket).
      expect(line(result, "write permission")).toMatch(
        /^note .*does not verify checksums, and the probe object atlas\/stream-audit\/_doctor\/write-probe-20261128T152000Z-[0-9a-f]{8} was written, then deleted$/,
      );
      const left = await motoS3.send(new ListObjectsV2Command({ Bucket: "locked-archive" }));
      expect(left.KeyCount ?? 0).toBe(0);
    });

    it("names a digest key that is not a signing key, and one that does not exist", async () => {
      const config = await start();
      const symmetric = await doctor(config, onMoto(), ["--digest-key", symmetricKey]);
      expect(symmetric.status).toBe(1);
      expect(line(symmetric, `digest key ${symmetricKey}`)).toMatch(/^FAIL .*not ECC_NIST_P256 SIGN_VERIFY/);
      const missing = `arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000`;
      const absent = await doctor(config, onMoto({ DIGEST_KEY_ARN: missing }));
      expect(absent.status).toBe(1);
      expect(line(absent, `digest key ${missing}`)).toMatch(/^FAIL .*NotFoundException/);
      expect(fixOf(absent, `digest key ${missing}`)).toContain("check the key ARN");
    });
  });
});
