/**
 * The doctor's KMS check: the digest key is an ECC_NIST_P256 signing key (GetPublicKey), and it
 * signs: a Sign of a fixed test message, verified offline with the key's public half, as an
 * auditor verifies a digest.
 */
import { GetPublicKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { signedMessage, verifyDigestSignature } from "../digest/format";
import { kmsSigner } from "../digest/kms";
import type { DoctorBounds } from "./bounds";
import type { CheckResult } from "./report";

/** What is signed: the SHA-256 of these bytes, as a digest's signature signs its SHA-256. */
export const KMS_TEST_MESSAGE = "atlas-audit-archiver doctor: a test message, never stored";

/** The key spec and usage the digests need. */
const KEY_SPEC = "ECC_NIST_P256";
const KEY_USAGE = "SIGN_VERIFY";

/**
 * Checks the digest key `keyId`. GetPublicKey denied is a note (the planner needs only
 * kms:Sign); a key of another spec or usage, or a Sign that fails, is a failure.
 */
export async function checkDigestKey(
  kms: KMSClient,
  keyId: string,
  bounds: DoctorBounds,
): Promise<CheckResult> {
  const subject = `digest key ${keyId}`;
  let publicKey: Uint8Array | undefined;
  let note = "";
  try {
    const answer = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }), {
      abortSignal: AbortSignal.timeout(bounds.kmsCallMs),
    });
    // CustomerMasterKeySpec: KeySpec's deprecated twin, which some KMS emulators answer alone.
    const spec = answer.KeySpec ?? answer.CustomerMasterKeySpec;
    if (spec !== KEY_SPEC || answer.KeyUsage !== KEY_USAGE) {
      return {
        id: "kms",
        subject,
        status: "fail",
        code: "DIGEST_KEY_UNSUITABLE",
        detail:
          `the key is ${spec ?? "of no spec"} ${answer.KeyUsage ?? ""}, not ${KEY_SPEC} ${KEY_USAGE}`.trim(),
        fix: `create an asymmetric ${KEY_SPEC} key for ${KEY_USAGE} (the stack's digest key is one) and pass its ARN`,
      };
    }
    publicKey = answer.PublicKey;
  } catch (err) {
    const name = (err as { name?: string } | null)?.name ?? "Error";
    if (name !== "AccessDeniedException") {
      const message = err instanceof Error ? err.message : String(err);
      return {
        id: "kms",
        subject,
        status: "fail",
        code: name,
        detail: `GetPublicKey failed (${name}: ${message})`,
        fix:
          name === "NotFoundException"
            ? "check the key ARN (--digest-key, DIGEST_KEY_ARN) and the region (AWS_REGION)"
            : "check that the key exists, is enabled, and that this caller may use it",
      };
    }
    note =
      "; GetPublicKey is denied, so the signature was not verified offline (the planner needs only kms:Sign)";
  }
  const message = signedMessage(Buffer.from(KMS_TEST_MESSAGE));
  let signature: Uint8Array;
  try {
    signature = await kmsSigner(kms, keyId).sign(message, AbortSignal.timeout(bounds.kmsCallMs));
  } catch (err) {
    return {
      id: "kms",
      subject,
      status: "fail",
      code: (err as { code?: string }).code ?? "DIGEST_KEY_FAILED",
      detail: err instanceof Error ? err.message : String(err),
      fix: "allow kms:Sign on the key to whoever seals the digests (the planner, or run --digest-key)",
    };
  }
  if (publicKey && !verifyDigestSignature(Buffer.from(KMS_TEST_MESSAGE), signature, publicKey)) {
    return {
      id: "kms",
      subject,
      status: "fail",
      code: "DIGEST_KEY_SIGNATURE_INVALID",
      detail: "KMS signed the test message, but the signature does not verify with the key's public key",
      fix: "the key cannot seal verifiable digests: use another ECC_NIST_P256 signing key",
    };
  }
  return {
    id: "kms",
    subject,
    status: "ok",
    detail: publicKey
      ? `${KEY_SPEC} ${KEY_USAGE}; signed a test message, verified offline with its public key`
      : `signed a test message${note}`,
  };
}
