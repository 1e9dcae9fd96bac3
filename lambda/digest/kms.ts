/**
 * KMS for the digests: the signer the archiver uses (`kms:Sign` only: the private key never leaves
 * KMS), the public key an auditor verifies with, and verification through KMS for those who
 * prefer it to the offline check.
 */
import { GetPublicKeyCommand, type KMSClient, SignCommand, VerifyCommand } from "@aws-sdk/client-kms";
import { ArchiverError } from "../errors";
import { type DigestSigner, publicKeyPem, SIGNING_ALGORITHM } from "./format";

/** KMS refused or failed a signing, verification or public-key request (transient unless it names a setup problem). */
export class DigestKeyError extends ArchiverError {
  constructor(message: string, options: { readonly kind: "setup" | "transient"; readonly cause?: unknown }) {
    super("DIGEST_KEY_FAILED", message, options);
  }
}

/** KMS errors a retry does not cure: the key, its state or the caller's permission. */
const SETUP_ERRORS = new Set([
  "AccessDeniedException",
  "NotFoundException",
  "DisabledException",
  "KMSInvalidStateException",
  "InvalidKeyUsageException",
  "UnsupportedOperationException",
]);

function keyError(action: string, keyId: string, err: unknown): DigestKeyError {
  const name = (err as { name?: string } | null)?.name ?? "Error";
  const setup = SETUP_ERRORS.has(name);
  return new DigestKeyError(
    `KMS ${action} with key ${keyId} failed (${name}: ${err instanceof Error ? err.message : String(err)})` +
      (setup
        ? "; check that the key exists, is enabled, is an ECC_NIST_P256 SIGN_VERIFY key, and that this role may use it."
        : "; it is retried at the next run."),
    { kind: setup ? "setup" : "transient", cause: err },
  );
}

/** A {@link DigestSigner} on a KMS asymmetric key (ECC_NIST_P256): it signs the digest's hash, never its bytes. */
export function kmsSigner(kms: KMSClient, keyId: string): DigestSigner {
  return {
    keyId,
    async sign(sha256, signal) {
      try {
        const answer = await kms.send(
          new SignCommand({
            KeyId: keyId,
            Message: sha256,
            MessageType: "RAW",
            SigningAlgorithm: SIGNING_ALGORITHM,
          }),
          signal ? { abortSignal: signal } : {},
        );
        if (!answer.Signature) throw new Error("no Signature in the answer");
        return answer.Signature;
      } catch (err) {
        throw keyError("Sign", keyId, err);
      }
    },
  };
}

/** The key's public half in PEM (what `atlas-audit-archiver public-key` prints). */
export async function kmsPublicKeyPem(kms: KMSClient, keyId: string): Promise<string> {
  try {
    const answer = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    if (!answer.PublicKey) throw new Error("no PublicKey in the answer");
    return publicKeyPem(answer.PublicKey);
  } catch (err) {
    throw keyError("GetPublicKey", keyId, err);
  }
}

/** Whether KMS says `signature` signs `sha256` under the key (for `verify` without `--public-key`). */
export async function kmsVerify(
  kms: KMSClient,
  keyId: string,
  sha256: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const answer = await kms.send(
      new VerifyCommand({
        KeyId: keyId,
        Message: sha256,
        MessageType: "RAW",
        Signature: signature,
        SigningAlgorithm: SIGNING_ALGORITHM,
      }),
    );
    return answer.SignatureValid === true;
  } catch (err) {
    if ((err as { name?: string } | null)?.name === "KMSInvalidSignatureException") return false;
    throw keyError("Verify", keyId, err);
  }
}
