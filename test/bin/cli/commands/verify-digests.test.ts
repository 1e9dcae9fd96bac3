/**
 * `verify --public-key` and `verify --digest-key`, and `public-key`, on the command line: sealed
 * archives in the S3 test server, signed by a local key (offline checks) or by a KMS key on moto
 * (KMS Verify and GetPublicKey).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey, digestKey } from "../../../../lambda/config";
import { type Digest, serializeDigest } from "../../../../lambda/digest/format";
import { kmsPublicKeyPem, kmsSigner } from "../../../../lambda/digest/kms";
import type { VerifyReport } from "../../../../lambda/reader/verify";
import { type TimeWindow, windowsInRange } from "../../../../lambda/windows";
import { GROUP, PROD } from "../../../support/archive-fixture";
import { runMain } from "../../../support/cli";
import {
  type LocalKey,
  localKey,
  logBytes,
  putDigest,
  putLog,
  type SealedArchive,
  writeSealedArchive,
} from "../../../support/digest-fixture";
import { describeWithMoto, type MotoServer, startMoto } from "../../../support/moto";
import { type S3TestServer, startS3Server } from "../../../support/s3-server";

const DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"];
const RANGE = ["--from", "2026-11-20", "--to", "2026-11-22"];
const NOW = Date.parse("2026-11-27T00:00:00Z");
const MINUTES = 360;

let s3server: S3TestServer;
let dir: string;
let configFile: string;
let key: LocalKey;
let keyFile: string;
let env: Record<string, string | undefined>;
let n = 0;

beforeAll(async () => {
  s3server = await startS3Server();
  dir = await mkdtemp(join(tmpdir(), "cli-verify-digests-"));
  configFile = join(dir, "workspaces.json");
  await writeFile(
    configFile,
    JSON.stringify({
      archive: { bucket: s3server.bucket, prefix: "unused/" },
      window: { minutes: MINUTES, lagMinutes: 15, lookbackHours: 72 },
      workspaces: [PROD],
    }),
  );
  key = localKey();
  keyFile = join(dir, "public.pem");
  await writeFile(keyFile, key.publicKeyPem);
  env = {
    PATH: process.env.PATH,
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
});
afterAll(async () => {
  await s3server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
  runMain(args, { env: { ...env, ...extraEnv }, cwd: dir, now: () => NOW });

/** A sealed archive of PROD under a fresh prefix, and the verify arguments for it. */
async function sealed(
  signer = key.signer,
): Promise<{ prefix: string; archive: SealedArchive; args: string[] }> {
  const prefix = `cli${++n}/`;
  const archive = await writeSealedArchive({
    s3server,
    prefix,
    workspaces: [PROD],
    days: DAYS,
    windowMinutes: MINUTES,
    signer,
    state: (_w, _window, i) => (i === 2 ? "empty" : i === 5 ? "missing" : "archived"),
  });
  return {
    prefix,
    archive,
    args: ["verify", "--config", configFile, "--prefix", prefix, "--group", GROUP, ...RANGE],
  };
}

const windowOf = (date: string, i: number): TimeWindow => {
  const start = Date.parse(`${date}T00:00:00Z`);
  return windowsInRange(start, start + 86_400_000, MINUTES)[i] as TimeWindow;
};

describe("atlas-audit-archiver verify --public-key", () => {
  it("exits 0 for an untouched sealed archive, and --json gives every day and window", async () => {
    const { prefix, args } = await sealed();
    const text = await cli([...args, "--public-key", keyFile]);
    expect(text.stderr).toBe("");
    expect(text.stdout).toBe(
      `OK: 11 object(s) in s3://${s3server.bucket}/${prefix} verified against 3 digest(s), signatures checked ` +
        "with the public key, chains intact: 3 day(s) sealed.\n",
    );
    expect(text.status).toBe(0);
    const json = await cli([...args, "--public-key", keyFile, "--json"]);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as VerifyReport;
    expect(report).toMatchObject({
      ok: true,
      sealed: true,
      signatures: "public-key",
      from: "2026-11-20T00:00:00Z",
      to: "2026-11-23T00:00:00Z",
      checked: 11,
      digests: 3,
      days: { sealed: 3, pending: 0, unsealed: 0 },
      bad: [],
    });
    expect(report.workspaces).toHaveLength(1);
    const [day] = report.workspaces[0]?.days ?? [];
    expect(Object.keys(day ?? {})).toEqual(["date", "status", "digest", "windows"]);
    expect(day?.digest).toEqual({
      key: digestKey(prefix, PROD, "2026-11-20"),
      sequence: 1,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      signature: "valid",
      problems: [],
    });
    expect(day?.windows[2]).toEqual({
      window: "2026-11-20T12:00:00Z/2026-11-20T18:00:00Z",
      key: archiveKey(prefix, PROD, windowOf("2026-11-20", 2)),
      state: "empty",
      result: "verified",
      bytes: expect.any(Number),
      problems: [],
    });
  });

  it("exits 1 naming an object overwritten with valid gzip, its metadata and a correct CRC32", async () => {
    const { prefix, args } = await sealed();
    const window = windowOf("2026-11-21", 0);
    const target = archiveKey(prefix, PROD, window);
    await putLog(s3server, target, PROD, window, logBytes(PROD, window, 3, "forged"));
    const result = await cli([...args, "--public-key", keyFile]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      `BAD ${target}: SHA256_MISMATCH: its bytes are not those the digest sealed`,
    );
    expect(result.stdout).toContain("FAILED: 1 problem(s)");
  });

  it("exits 1 when the public key is another one: every signature fails", async () => {
    const { args } = await sealed();
    const other = join(dir, "other.pem");
    await writeFile(other, localKey().publicKeyPem);
    const result = await cli([...args, "--public-key", other, "--json"]);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as VerifyReport;
    expect(report.bad.map((b) => b.problem)).toEqual([
      "SIGNATURE_INVALID",
      "SIGNATURE_INVALID",
      "SIGNATURE_INVALID",
    ]);
  });

  it("takes the stack's DigestPublicKey output (base64 DER) as well as PEM", async () => {
    const { args } = await sealed();
    const der = join(dir, "public.b64");
    const { createPublicKey } = await import("node:crypto");
    const spki = createPublicKey(key.publicKeyPem).export({ format: "der", type: "spki" });
    await writeFile(der, `${spki.toString("base64")}\n`);
    expect((await cli([...args, "--public-key", der])).status).toBe(0);
  });

  it("exits 1 without a key when digests are there, saying their signatures were not checked", async () => {
    const { prefix, args } = await sealed();
    const result = await cli(args);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`BAD ${prefix}_digests/: SIGNATURE_UNCHECKED:`);
  });

  it.each<[string, () => string[], string]>([
    [
      "both keys",
      () => ["--public-key", keyFile, "--digest-key", "arn:x"],
      "Pass --public-key or --digest-key, not both.",
    ],
    ["a missing key file", () => ["--public-key", join(dir, "nope.pem")], "cannot be read"],
    ["a key file that is no key", () => ["--public-key", configFile], "is not a public key"],
  ])("exits 2 for %s", async (_name, extra, message) => {
    const result = await cli(["verify", "--config", configFile, ...extra()]);
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });
});

describeWithMoto("atlas-audit-archiver verify --digest-key and public-key, through KMS (moto)", () => {
  let moto: MotoServer;
  let kms: KMSClient;
  let arn: string;
  let kmsEnv: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    const created = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    );
    arn = created.KeyMetadata?.Arn as string;
    kmsEnv = { AWS_ENDPOINT_URL_KMS: moto.endpoint };
  }, 30_000);
  afterAll(async () => {
    kms?.destroy();
    await moto?.close();
  });

  it("verifies a KMS-signed archive clean through KMS, and offline with the key public-key prints", async () => {
    const { args } = await sealed(kmsSigner(kms, arn));
    const viaKms = await cli([...args, "--digest-key", arn], kmsEnv);
    expect(viaKms.stdout).toContain("signatures checked through KMS, chains intact: 3 day(s) sealed.");
    expect(viaKms.status).toBe(0);

    const printed = await cli(["public-key", "--digest-key", arn], kmsEnv);
    expect(printed.status).toBe(0);
    expect(printed.stdout).toBe(await kmsPublicKeyPem(kms, arn));
    const out = join(dir, "kms.pem");
    const written = await cli(["public-key", "--digest-key", arn, "--out", out], kmsEnv);
    expect(written.status).toBe(0);
    expect(written.stderr).toContain(`to ${out}`);
    expect(await readFile(out, "utf8")).toBe(printed.stdout);

    const offline = await cli([...args, "--public-key", out]);
    expect(offline.stdout).toContain("signatures checked with the public key");
    expect(offline.status).toBe(0);
  });

  it("names a digest replaced by one signed with another key, and one whose window list was edited", async () => {
    const { prefix, archive, args } = await sealed(kmsSigner(kms, arn));
    const replaced = digestKey(prefix, PROD, "2026-11-21");
    const forger = localKey("arn:aws:kms:us-east-1:999999999999:key/99999999-9999-9999-9999-999999999999");
    const forged = archive.digests.get(replaced)?.digest as Digest;
    await putDigest(
      s3server,
      replaced,
      { ...forged, signing: { ...forged.signing, keyId: forger.signer.keyId } },
      forger.signer,
    );
    const edited = digestKey(prefix, PROD, "2026-11-20");
    const original = archive.digests.get(edited);
    const body = original?.digest as Digest;
    await s3server.putObject(edited, serializeDigest({ ...body, windows: body.windows.slice(1) }), {
      signature: original?.signature as string,
    });
    const result = await cli([...args, "--digest-key", arn, "--json"], kmsEnv);
    expect(result.status).toBe(1);
    const found = (JSON.parse(result.stdout) as VerifyReport).bad.map((b) => [b.problem, b.key]);
    expect(found).toEqual(
      expect.arrayContaining([
        ["SIGNATURE_INVALID", edited],
        ["OBJECT_UNLISTED", archiveKey(prefix, PROD, windowOf("2026-11-20", 0))],
        ["SIGNATURE_KEY_MISMATCH", replaced],
        ["SIGNATURE_INVALID", replaced],
        ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-22")],
      ]),
    );
  });

  it("names a digest whose signature is no signature at all", async () => {
    const { prefix, archive, args } = await sealed(kmsSigner(kms, arn));
    const target = digestKey(prefix, PROD, "2026-11-22");
    await s3server.putObject(target, archive.digests.get(target)?.bytes as Buffer, {
      signature: Buffer.from("not a signature").toString("base64"),
    });
    const result = await cli([...args, "--digest-key", arn], kmsEnv);
    expect(result.stdout).toContain(`BAD ${target}: SIGNATURE_INVALID:`);
    expect(result.status).toBe(1);
  });

  it("exits 2 naming the key when KMS has no such key", async () => {
    const missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    const result = await cli(["public-key", "--digest-key", missing], kmsEnv);
    expect(result.stderr).toContain(missing);
    expect(result.status).toBe(2);
  });
});

describe("atlas-audit-archiver public-key", () => {
  it("prints its help, and exits 2 without --digest-key", async () => {
    const help = await cli(["public-key", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: atlas-audit-archiver public-key --digest-key ARN \[--out FILE\]/);
    for (const line of help.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    const bare = await cli(["public-key"]);
    expect(bare.stderr).toContain("public-key needs --digest-key ARN.");
    expect(bare.status).toBe(2);
  });
});
