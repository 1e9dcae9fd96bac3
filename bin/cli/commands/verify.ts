/** `atlas-audit-archiver verify`: re-reads archived objects and checks them, against the signed digests where there are some. */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { signedMessage, verifyDigestSignature } from "../../../lambda/digest/format";
import { kmsVerify } from "../../../lambda/digest/kms";
import { type SignatureVerifier, verifyArchive } from "../../../lambda/reader/verify";
import { JSON_OPTION, type OptionValues, stringOptions, usageError } from "../command";
import { formatVerifyReport } from "../format/verify";
import { jsonRow, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";
import { ARCHIVE_OPTIONS, hasRange, openArchive, readerHelp, readRange } from "../target";
import { kmsClientFor } from "./public-key";

export const summary = "Re-read archived objects and prove them intact, against the signed digests.";

export const options = {
  ...stringOptions("group", "from", "to", "public-key", "digest-key"),
  ...JSON_OPTION,
  ...ARCHIVE_OPTIONS,
};

export const help = readerHelp({
  usage: "verify [--group G] [--from DATE --to DATE] [--public-key FILE | --digest-key ARN] [--json]",
  summary: [
    summary,
    "",
    "Each object is read whole, four at a time: a complete gzip, S3's CRC32, metadata naming its key.",
    "Where a signed digest seals its day, its size and SHA-256 must be those sealed; every digest's",
    "signature must verify and link to the digest before it; no sealed object may be gone, no object",
    "added to a sealed day, and every window of the schedule must be accounted for. A day without a",
    "digest is reported unsealed (a problem once digests are in use, or with a key given).",
  ].join("\n"),
  options: [
    ["--group G", "Only this Atlas project (default: the whole archive)"],
    ["--from, --to", `${RANGE_TEXT} (both together; default: every object)`],
    [
      "--public-key FILE",
      "Check the digests' signatures offline with this PEM public key (from atlas-audit-archiver public-key)",
    ],
    [
      "--digest-key ARN",
      "Check them through KMS (kms:Verify) with this key; each digest must name it as its signing key",
    ],
    jsonRow("the report (per workspace and day: its digest, and each window's state and result)"),
  ],
  exitStatus:
    "0 when every object read is intact and, with digests, every day of the range is sealed and verified " +
    "(a day not due yet excepted); 1 on any problem (without a key, digests found count as one: their " +
    "signatures are unchecked)",
});

/**
 * The public key in `file`: PEM (what `public-key` prints), or the base64 DER SubjectPublicKeyInfo
 * the stack exports (`DigestPublicKey`), or that DER as it is.
 */
async function readPublicKey(file: string): Promise<KeyObject> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw usageError(
      "public-key",
      (n) => `${n("public-key")} ${file} cannot be read (${(err as Error).message}).`,
    );
  }
  const text = bytes.toString("utf8").trim();
  let key: KeyObject | undefined;
  const attempts: Array<() => KeyObject> = [
    () => createPublicKey(text),
    () => createPublicKey({ key: Buffer.from(text, "base64"), format: "der", type: "spki" }),
    () => createPublicKey({ key: bytes, format: "der", type: "spki" }),
  ];
  for (const attempt of attempts) {
    try {
      key = attempt();
      break;
    } catch {
      // The next form.
    }
  }
  if (!key) {
    throw usageError(
      "public-key",
      (n) =>
        `${n("public-key")} ${file} is not a public key: give the PEM of atlas-audit-archiver public-key, ` +
        "or the stack's DigestPublicKey output (base64 DER).",
    );
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw usageError(
      "public-key",
      (n) => `${n("public-key")} ${file} is not an ECC P-256 public key, which signs the digests.`,
    );
  }
  return key;
}

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const publicKeyFile = values["public-key"];
  const digestKey = values["digest-key"];
  if (publicKeyFile !== undefined && digestKey !== undefined) {
    throw usageError("public-key", (n) => `Pass ${n("public-key")} or ${n("digest-key")}, not both.`);
  }
  const pem =
    publicKeyFile === undefined
      ? undefined
      : (await readPublicKey(publicKeyFile)).export({ format: "pem", type: "spki" }).toString();
  const kms = digestKey === undefined ? undefined : kmsClientFor(io.env);
  let signatures: SignatureVerifier | undefined;
  if (pem !== undefined) {
    signatures = {
      method: "public-key",
      verify: async (bytes, sig) => verifyDigestSignature(bytes, sig, pem),
    };
  } else if (kms && digestKey !== undefined) {
    signatures = {
      method: "kms",
      keyId: digestKey,
      verify: async (bytes, sig) => {
        try {
          return await kmsVerify(kms, digestKey, signedMessage(bytes), sig);
        } catch (err) {
          // KMS refuses a signature that is no DER ECDSA signature at all: that digest's is invalid.
          if (
            (err as Error).cause instanceof Error &&
            ((err as Error).cause as Error).name === "ValidationException"
          ) {
            return false;
          }
          throw err;
        }
      },
    };
  }
  try {
    return await openArchive(values, io, async (archive) => {
      const report = await verifyArchive({
        s3: archive.s3,
        location: archive.target,
        ...(values.group === undefined ? {} : { groupId: values.group }),
        ...(hasRange(values) ? { range: readRange(values, archive, true) } : {}),
        ...(signatures ? { signatures } : {}),
        window: archive.target.window,
        workspaces: archive.target.workspaces,
        nowMs: archive.nowMs,
      });
      io.stdout.write(`${values.json ? JSON.stringify(report) : formatVerifyReport(report)}\n`);
      return report.ok ? 0 : 1;
    });
  } finally {
    kms?.destroy();
  }
}
