import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Digest,
  serializeDigest,
  sha256Hex,
  signedMessage,
  verifyDigestSignature,
} from "../../../lambda/digest/format";
import { kmsPublicKeyPem, kmsSigner, kmsVerify } from "../../../lambda/digest/kms";
import { describeWithMoto, type MotoServer, startMoto } from "../../support/moto";

const DIGEST: Digest = {
  v: 1,
  workspace: { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
  date: "2026-11-28",
  sequence: 1,
  sealedAt: "2026-12-01T15:20:00Z",
  windowMinutes: 60,
  windows: [
    {
      window: "2026-11-28T00:00:00Z/2026-11-28T01:00:00Z",
      key: "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-28/prod-workspace_20261128T000000Z_20261128T010000Z_audit.log.gz",
      state: "archived",
      bytes: 1234,
      sha256: "ab".repeat(32),
      crc32: "AAAAAA==",
      lines: 10,
    },
  ],
  previous: null,
  signing: { keyId: "arn:aws:kms:us-east-1:123456789012:key/test", algorithm: "ECDSA_SHA_256" },
};

describe("a digest's bytes and signature", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = publicKey.export({ format: "pem", type: "spki" }).toString();

  it("serializes the same digest to the same bytes, its fields in a fixed order", () => {
    const bytes = serializeDigest(DIGEST);
    expect(bytes.equals(serializeDigest(structuredClone(DIGEST)))).toBe(true);
    expect(Object.keys(JSON.parse(bytes.toString()))).toEqual([
      "v",
      "workspace",
      "date",
      "sequence",
      "sealedAt",
      "windowMinutes",
      "windows",
      "previous",
      "signing",
    ]);
    expect(bytes.toString().endsWith("}\n")).toBe(true);
  });

  it("verifies offline a signature of its bytes, and refuses one of other bytes or another key", () => {
    const bytes = serializeDigest(DIGEST);
    const signature = sign("sha256", signedMessage(bytes), privateKey);
    expect(verifyDigestSignature(bytes, signature, pem)).toBe(true);
    const edited = serializeDigest({ ...DIGEST, windows: [] });
    expect(verifyDigestSignature(edited, signature, pem)).toBe(false);
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    expect(
      verifyDigestSignature(bytes, signature, other.export({ format: "pem", type: "spki" }).toString()),
    ).toBe(false);
    expect(verifyDigestSignature(bytes, Buffer.from("not a signature"), pem)).toBe(false);
  });
});

describeWithMoto("digests signed by KMS (moto)", () => {
  let moto: MotoServer;
  let kms: KMSClient;
  let keyId: string;

  beforeAll(async () => {
    moto = await startMoto();
    kms = new KMSClient({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
      maxAttempts: 1,
    });
    const created = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    );
    keyId = created.KeyMetadata?.Arn as string;
  }, 30_000);
  afterAll(async () => {
    kms?.destroy();
    await moto?.close();
  });

  it("signs the digest's SHA-256 in KMS; the public key verifies it offline, and KMS verifies it too", async () => {
    const bytes = serializeDigest({ ...DIGEST, signing: { keyId, algorithm: "ECDSA_SHA_256" } });
    const hash = Buffer.from(sha256Hex(bytes), "hex");
    const signature = await kmsSigner(kms, keyId).sign(hash);
    const pem = await kmsPublicKeyPem(kms, keyId);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(verifyDigestSignature(bytes, signature, pem)).toBe(true);
    expect(await kmsVerify(kms, keyId, hash, signature)).toBe(true);
    const tampered = Buffer.from(sha256Hex(Buffer.concat([bytes, Buffer.from(" ")])), "hex");
    expect(await kmsVerify(kms, keyId, tampered, signature)).toBe(false);
    expect(verifyDigestSignature(Buffer.concat([bytes, Buffer.from(" ")]), signature, pem)).toBe(false);
  });

  it("names the key and says what to check when KMS refuses it", async () => {
    await expect(
      kmsSigner(kms, "arn:aws:kms:us-east-1:123456789012:key/nope").sign(Buffer.alloc(32)),
    ).rejects.toMatchObject({
      code: "DIGEST_KEY_FAILED",
      kind: "setup",
      message: expect.stringContaining("key/nope"),
    });
  });
});

const openssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!openssl)
  process.stderr.write("skipping the OpenSSL check of the README's commands: no openssl on PATH\n");

describe.runIf(openssl)("the README's OpenSSL commands", () => {
  it("verify a digest with nothing but the public key, and refuse an edited one; the DER output converts to PEM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "digest-openssl-"));
    try {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const bytes = serializeDigest(DIGEST);
      // What KMS does with the 32-byte message (ECDSA_SHA_256, RAW): hash it, sign with P-256.
      const signature = sign("sha256", signedMessage(bytes), privateKey);
      await writeFile(join(dir, "digest.json"), bytes);
      await writeFile(join(dir, "signature.der"), signature);
      // The stack's DigestPublicKey output is base64 DER: the README's conversion to PEM.
      const der = publicKey.export({ format: "der", type: "spki" });
      await writeFile(join(dir, "key.der"), der);
      const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
      run(["pkey", "-pubin", "-inform", "DER", "-in", "key.der", "-out", "archiver-public.pem"]);
      run(["dgst", "-sha256", "-binary", "-out", "digest.sha256", "digest.json"]);
      const verify = [
        "dgst",
        "-sha256",
        "-verify",
        "archiver-public.pem",
        "-signature",
        "signature.der",
        "digest.sha256",
      ];
      expect(run(verify)).toContain("Verified OK");
      await writeFile(join(dir, "digest.json"), serializeDigest({ ...DIGEST, windows: [] }));
      run(["dgst", "-sha256", "-binary", "-out", "digest.sha256", "digest.json"]);
      // A non-zero exit: "Verification failure".
      expect(() => run(verify)).toThrow(/Command failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
