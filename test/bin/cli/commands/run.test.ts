import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, gzipSync } from "node:zlib";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../../../lambda/archive/run";
import { crc32Base64 } from "../../../../lambda/bucket/checksum";
import { digestKey } from "../../../../lambda/config";
import {
  type Digest,
  type DigestWindow,
  SIGNATURE_METADATA,
  verifyDigestSignature,
} from "../../../../lambda/digest/format";
import { kmsPublicKeyPem } from "../../../../lambda/digest/kms";
import { GROUP } from "../../../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../../../support/atlas-simulator";
import { type CliResult, runCli, runMain } from "../../../support/cli";
import { describeWithMoto, type MotoServer, startMoto } from "../../../support/moto";
import { type S3TestServer, startS3Server } from "../../../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../../../support/secrets-manager";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

const NOW = "2026-11-28T15:20:00Z";
const SERVICE_ACCOUNT = {
  ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
  ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
};

/** Runs the command line in this process with exactly `env` (and PATH, HOME). */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runMain(args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, cwd: dir });
}

/** Exit 2 with one message (and the usage hint), no stack trace. */
function expectRefused(result: CliResult, message: string): void {
  expect(result.status).toBe(2);
  expect(result.stderr).toContain(message);
  expect(result.stderr).toMatch(
    /^atlas-audit-archiver: [^\n]+\n(Run atlas-audit-archiver run --help for usage\.\n)?$/,
  );
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cli-run-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("atlas-audit-archiver run", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let configFile: string;

  afterEach(async () => {
    await sim?.close();
    await s3?.close();
  });

  async function start(workspaces = [{ groupId: GROUP, tenantName: "prod-workspace" }]) {
    sim = await startAtlasSimulator({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] });
    s3 = await startS3Server();
    configFile = join(dir, `config-${Date.now()}.json`);
    await writeFile(
      configFile,
      JSON.stringify({
        atlas: { baseUrl: "https://cloud.mongodb.com" },
        window: { lookbackHours: 4 },
        workspaces,
      }),
    );
  }

  function awsEnv(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ARCHIVE_BUCKET: s3.bucket,
      ATLAS_BASE_URL: sim.baseUrl,
    };
  }

  it("as the real executable: prints the JSON summary alone on stdout, the progress on stderr, and exits 0", async () => {
    await start();
    const result = await runCli(["run", "--config", configFile, "--now", NOW, "--json"], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...awsEnv(), ...SERVICE_ACCOUNT },
    });
    expect(result.stderr).toContain("prod-workspace: 3 due window(s), 3 missing");
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary).toMatchObject({
      ok: true,
      now: NOW,
      bucket: s3.bucket,
      totals: { archived: 3, failed: 0 },
    });
    expect(logKeys(await s3.keys())).toHaveLength(3);
    // The CLI revokes its token on the way out, so frequent runs never pile up live tokens.
    expect(sim.requests.filter((r) => r.endpoint === "revoke")).toHaveLength(1);
  });

  describeWithMoto("with --digest-key (KMS on moto)", () => {
    let moto: MotoServer;
    let kms: KMSClient;
    let keyArn: string;
    beforeAll(async () => {
      moto = await startMoto();
      kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
      const created = await kms.send(
        new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
      );
      keyArn = created.KeyMetadata?.Arn as string;
    }, 30_000);
    afterAll(async () => {
      kms?.destroy();
      await moto?.close();
    });

    it("seals the days a range run archived (and says so when no key is given); verify proves them offline and through KMS, and names a forged object", async () => {
      await start();
      const env = { ...awsEnv(), ...SERVICE_ACCOUNT, AWS_ENDPOINT_URL_KMS: moto.endpoint };
      const plain = await cli(["run", "--config", configFile, "--now", NOW], env);
      expect(plain.status).toBe(0);
      expect(plain.stderr).toContain(
        "digests: the run's days are not sealed (no --digest-key or DIGEST_KEY_ARN)",
      );
      const args = [
        "run",
        "--config",
        configFile,
        "--now",
        NOW,
        "--from",
        "2026-11-26",
        "--to",
        "2026-11-26",
      ];
      const result = await cli([...args, "--digest-key", keyArn, "--json"], env);
      expect(result.stderr).toContain(
        "SEALED 32b6e34b3d91647abb20e7b8/prod-workspace 2026-11-26 #1: 20 archived, 4 empty, 0 missing, 0 unreceipted",
      );
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        totals: { archived: 24 },
        digests: { sealed: 1, failed: 0 },
      });
      const key = digestKey(
        "atlas/stream-audit/",
        { groupId: GROUP, tenantName: "prod-workspace" },
        "2026-11-26",
      );
      const stored = await s3.getObject(key);
      const signature = Buffer.from(stored.metadata[SIGNATURE_METADATA] as string, "base64");
      expect(verifyDigestSignature(stored.body, signature, await kmsPublicKeyPem(kms, keyArn))).toBe(true);
      // The key from the environment; the day is sealed already.
      const again = await cli(args, { ...env, DIGEST_KEY_ARN: keyArn });
      expect(again.status).toBe(0);
      expect(again.stderr).toContain("digests: 0 sealed, 1 already sealed");

      // What the run sealed, verify proves: offline with the public key, and through KMS.
      const pem = join(dir, "archiver-public.pem");
      await writeFile(pem, await kmsPublicKeyPem(kms, keyArn));
      const range = ["--group", GROUP, "--from", "2026-11-26", "--to", "2026-11-26"];
      const offline = await cli(["verify", "--config", configFile, ...range, "--public-key", pem], env);
      expect(offline.stdout + offline.stderr).not.toContain("BAD");
      expect(offline.status).toBe(0);
      const throughKms = await cli(["verify", "--config", configFile, ...range, "--digest-key", keyArn], env);
      expect(throughKms.status).toBe(0);
      // An object replaced by other valid gzip bytes with its metadata and a correct CRC32: only
      // the digest's in-flight SHA-256 can tell.
      const body = JSON.parse(stored.body.toString()) as Digest;
      const victim = body.windows.find((w) => w.state === "archived") as DigestWindow;
      const original = await s3.getObject(victim.key);
      const forged = gzipSync(Buffer.from('{"forged":true}\n'));
      await s3.putObject(victim.key, forged, original.metadata, undefined, {
        algorithm: "crc32",
        value: crc32Base64(crc32(forged)),
      });
      const tampered = await cli(["verify", "--config", configFile, ...range, "--public-key", pem], env);
      expect(tampered.status).toBe(1);
      expect(tampered.stdout + tampered.stderr).toContain(`BAD ${victim.key}: SHA256_MISMATCH`);
    });
  });

  it("archives with an API key, and exits 1 when a window failed", async () => {
    await start([
      { groupId: GROUP, tenantName: "prod-workspace" },
      { groupId: GROUP, tenantName: "gone" },
    ]);
    const result = await cli(["run", "--config", configFile, "--now", NOW], {
      ...awsEnv(),
      ATLAS_PUBLIC_KEY: DEFAULT_API_KEY.publicKey,
      ATLAS_PRIVATE_KEY: DEFAULT_API_KEY.privateKey,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("FAILED ATLAS_NOT_FOUND");
    expect(result.stderr).toContain("archived 3");
    expect(result.stderr).toContain("FAILED: the next run retries the failed windows.");
    expect(result.stdout).toBe("");
  });

  it("names the run after the command's clock", async () => {
    await start();
    const result = await runMain(["run", "--config", configFile, "--now", NOW, "--json"], {
      env: { ...awsEnv(), ...SERVICE_ACCOUNT },
      now: () => Date.parse("2030-01-02T03:04:05Z"),
    });
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as RunSummary).runId).toMatch(/^cli-20300102T030405Z-[0-9a-f]{6}$/);
  });

  it("reads the credentials from Secrets Manager with --secret-id", async () => {
    await start();
    const secrets: SecretsManagerFake = await startSecretsManager();
    try {
      secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
      const result = await cli(
        ["run", "--config", configFile, "--now", NOW, "--secret-id", "atlas/archiver"],
        {
          ...awsEnv(),
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        },
      );
      expect(result.status).toBe(0);
      expect(secrets.calls.map((c) => c.secretId)).toEqual(["atlas/archiver"]);
    } finally {
      await secrets.close();
    }
  });

  it("takes a --from and --to date as whole UTC days, as the readers do", async () => {
    await start();
    const result = await cli(
      ["run", "--config", configFile, "--now", NOW, "--from", "2026-11-28", "--to", "2026-11-28", "--json"],
      { ...awsEnv(), ...SERVICE_ACCOUNT },
    );
    expect(result.stderr).toContain("prod-workspace: 15 due window(s), 15 missing");
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as RunSummary).totals.archived).toBe(15);
  });

  it("archives a 2,160-window backfill in one invocation, beyond a run's cap, and exits 0", async () => {
    const workspaces = ["a", "b", "c"].map((t) => ({ groupId: GROUP, tenantName: `tenant-${t}` }));
    sim = await startAtlasSimulator({ workspaces, linesPerWindow: () => 0 });
    s3 = await startS3Server();
    configFile = join(dir, "backfill.json");
    await writeFile(
      configFile,
      JSON.stringify({ atlas: { baseUrl: "https://cloud.mongodb.com" }, workspaces }),
    );
    const result = await cli(
      [
        "run",
        "--config",
        configFile,
        "--now",
        NOW,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-30",
        "--json",
        "--concurrency",
        "8",
        "--lanes",
        "3",
      ],
      { ...awsEnv(), ...SERVICE_ACCOUNT },
    );
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.totals).toMatchObject({ due: 2_160, archived: 2_160, deferred: 0, failed: 0 });
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe("OK");
    expect(result.status).toBe(0);
  }, 60_000);

  it("exits 1 when Atlas asks to wait longer than a call may: the window fails, the project's others are left undone", async () => {
    const workspaces = ["prod-workspace", "billing"].map((tenantName) => ({ groupId: GROUP, tenantName }));
    sim = await startAtlasSimulator({ workspaces });
    s3 = await startS3Server();
    configFile = join(dir, "paused.json");
    await writeFile(
      configFile,
      JSON.stringify({
        atlas: { baseUrl: "https://cloud.mongodb.com" },
        window: { lookbackHours: 4 },
        workspaces,
      }),
    );
    sim.inject({
      fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 999_999 },
    });
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--lanes", "1", "--json"], {
      ...awsEnv(),
      ...SERVICE_ACCOUNT,
    });
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.totals).toMatchObject({ failed: 1, archived: 0, deferred: summary.totals.due - 1 });
    expect(result.stderr).toContain("left for the next run (rate limit");
    expect(result.status).toBe(1);
  });

  it.each([
    ["--concurrency", "0"],
    ["--concurrency", "65"],
    ["--lanes", "x"],
  ])("refuses %s %s before asking anyone", async (flag, value) => {
    await start();
    const result = await cli(["run", "--config", configFile, flag, value], {
      ...awsEnv(),
      ...SERVICE_ACCOUNT,
    });
    expectRefused(result, `${flag} "${value}" must be a whole number from 1 to 64.`);
    expect(sim.requests).toHaveLength(0);
  });

  it("exits 2 and says which variables to set when there are no credentials", async () => {
    await start();
    const result = await cli(["run", "--config", configFile], awsEnv());
    expectRefused(result, "ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET");
    expect(result.stderr).toContain("or pass --secret-id.");
  });
});

describe("atlas-audit-archiver run: refusals before anything is asked", () => {
  it.each([
    [["run", "--config", "missing.json"], "does not exist"],
    [["run", "--now", "yesterday"], '--now "yesterday" is not an instant'],
    [["run", "--from", "2026-11-01T00:00:00Z"], "--from and --to are required together: give --to too"],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    expectRefused(await cli(args), message);
  });

  it.each([
    ["275760-09-13T00:00:00.001Z", "is not an instant"],
    ["+275760-09-13T00:00:00Z", "is not an instant"],
    ["-271821-04-19T00:00:00Z", "is not an instant"],
    ["12345678901234567890-01-01T00:00:00Z", "is not an instant"],
    ["1", "is not an instant"],
    ["2026-02-30T00:00:00Z", "is not a calendar date: February 2026 has 28 days"],
    ["2026-11-28T13:00:00", "The zone is missing"],
    ["1969-12-31T23:59:59Z", "outside the years 1970 through 9999"],
    ["9999-12-31T23:30:00-01:00", "outside the years 1970 through 9999"],
    ["2026-11-28", "is a date, not an instant"],
  ])("exits 2 for --now %j", async (now, message) => {
    const result = await cli(["run", `--now=${now}`]);
    expectRefused(result, `--now ${JSON.stringify(now)} `);
    expect(result.stderr).toContain(message);
  });

  it.each([
    [
      ["--from", "2026-11-28T00:00:00", "--to", "2026-11-29T00:00:00Z"],
      '--from "2026-11-28T00:00:00" is not a date',
    ],
    [["--from", "2026-11-29", "--to", "2026-11-28"], "is reversed"],
    [["--from", "2026-11-28T12:00:00Z", "--to", "2026-11-28T12:00:00Z"], "is empty"],
    [["--to", "2026-11-28"], "--from and --to are required together: give --from too"],
    [["--from", "0001-01-01", "--to", "2026-11-28"], "outside the years 1970 through 9999"],
    [
      ["--from", "1970-01-01", "--to", "9999-12-31"],
      "covers 2932897 days, more than the 366 allowed: split it",
    ],
  ])("exits 2 for the range %j, as the readers would", async (range, message) => {
    expectRefused(await cli(["run", ...range]), message);
  });

  // Each character that ends or splits the userinfo of a URL, before the password.
  const passwords = ["x@", "x:", "a/", "a#", "a%40", "a ", 'a"', "a\\", "a@b@"].map((p) => `${p}SEKRET`);
  it.each([...passwords, "SEKRET?x"])(
    "exits 2 for an ATLAS_BASE_URL with the password %j, and never prints it",
    async (password) => {
      const file = join(dir, "base-url.json");
      await writeFile(
        file,
        JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] }),
      );
      const result = await cli(["run", "--config", file], {
        ATLAS_BASE_URL: `https://svc:${password}@cloud.mongodb.com`,
        ARCHIVE_BUCKET: "b",
        ATLAS_CLIENT_ID: "id",
        ATLAS_CLIENT_SECRET: "secret",
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        '$.atlas.baseUrl = "https://***@cloud.mongodb.com": must not contain credentials',
      );
      expect(result.stderr + result.stdout).not.toContain("SEKRET");
    },
  );

  it("never prints the password of a base URL in the parameter file", async () => {
    const file = join(dir, "base-url-file.json");
    await writeFile(
      file,
      JSON.stringify({
        atlas: { baseUrl: "https://svc:x@SEKRET@cloud.mongodb.com" },
        workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }],
      }),
    );
    const result = await cli(["run", "--config", file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("https://***@cloud.mongodb.com");
    expect(result.stderr).not.toContain("SEKRET");
  });

  it("exits 2 at once for a parameter file that never ends, or a pipe that nobody writes", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [file, message] of [
      ["/dev/zero", "Parameter file /dev/zero is larger than 4 MiB"],
      [fifo, `Parameter file ${fifo} is a named pipe (FIFO) that nothing was written to`],
    ] as const) {
      const started = performance.now();
      expectRefused(await cli(["run", "--config", file]), message);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("holds ATLAS_BASE_URL to the parameter file's rule: https, or http only to loopback", async () => {
    const file = join(dir, "ok.json");
    await writeFile(file, JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] }));
    const result = await cli(["run", "--config", file], {
      ATLAS_BASE_URL: "http://atlas.example.com",
      ARCHIVE_BUCKET: "b",
      ATLAS_CLIENT_ID: "id",
      ATLAS_CLIENT_SECRET: "secret",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("ATLAS_BASE_URL");
    expect(result.stderr).toContain("$.atlas.baseUrl");
  });

  it("exits 2 and lists every problem of a bad parameter file", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify({ window: { minutes: 7 }, workspaces: [{ groupId: "XYZ", tenantName: "a/b" }] }),
    );
    const result = await cli(["run", "--config", bad]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("$.window.minutes");
    expect(result.stderr).toContain("$.workspaces[0].groupId");
    expect(result.stderr).toContain("$.workspaces[0].tenantName");
  });
});

// `run` checks its credentials before the first window: a credentials problem is one message and
// exit status 2, never one failure per window.
describe("atlas-audit-archiver run: credentials are checked once, before any window", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let secrets: SecretsManagerFake;
  let configFile: string;

  beforeAll(async () => {
    configFile = join(dir, "credentials.json");
    await writeFile(
      configFile,
      JSON.stringify({
        window: { lookbackHours: 24 },
        workspaces: [
          { groupId: GROUP, tenantName: "prod-workspace" },
          { groupId: GROUP, tenantName: "billing" },
        ],
      }),
    );
  });
  afterEach(async () => {
    await sim?.close();
    await s3?.close();
    await secrets?.close();
  });

  async function env(extra: Record<string, string>): Promise<Record<string, string>> {
    sim = await startAtlasSimulator();
    s3 = await startS3Server();
    secrets = await startSecretsManager();
    return {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ARCHIVE_BUCKET: s3.bucket,
      ATLAS_BASE_URL: sim.baseUrl,
      ...extra,
    };
  }

  it("exits 2 with one message for an unknown --secret-id, asking Atlas nothing", async () => {
    const vars = await env({});
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--secret-id", "no/such"], vars);
    expect(result.status).toBe(2);
    expect(result.stderr.match(/Could not read the Atlas credentials from secret no\/such/g)).toHaveLength(1);
    expect(result.stderr).not.toContain("FAILED");
    expect(sim.requests).toEqual([]);
    expect(logKeys(await s3.keys())).toEqual([]);
  });

  it("exits 2 with one message when Atlas refuses the service account, downloading nothing", async () => {
    const vars = await env({
      ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
      ATLAS_CLIENT_SECRET: "mdb_sa_sk_WRONG_SECRET",
    });
    const result = await cli(["run", "--config", configFile, "--now", NOW], vars);
    expect(result.status).toBe(2);
    expect(result.stderr.match(/Atlas refused the service account/g)).toHaveLength(1);
    expect(result.stderr).not.toContain("mdb_sa_sk_WRONG_SECRET");
    expect(sim.requests.filter((r) => r.endpoint === "download")).toEqual([]);
  });

  it("exits 2 when only one of a pair of credentials is set", async () => {
    const vars = await env({ ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId });
    const result = await cli(["run", "--config", configFile, "--now", NOW], vars);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "atlas-audit-archiver: ATLAS_CLIENT_ID is set but ATLAS_CLIENT_SECRET is not: set both.\n",
    );
  });

  it("prints no credential a server echoes back, on stderr or in the --json summary", async () => {
    const vars = await env({
      ATLAS_PUBLIC_KEY: DEFAULT_API_KEY.publicKey,
      ATLAS_PRIVATE_KEY: DEFAULT_API_KEY.privateKey,
    });
    sim.inject({ fault: { kind: "echo-credentials", status: 400 }, times: 2 });
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--json"], vars);
    expect(result.status).toBe(1);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toContain("echoes the credentials");
    expect(output).toContain("[redacted]");
    expect(output).not.toContain(DEFAULT_API_KEY.privateKey);
    expect(output).not.toMatch(/digest response: (?!\[redacted\])/);
    expect(output).not.toMatch(/Authorization: Digest/);
  });
});
