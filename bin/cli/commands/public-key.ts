/** `atlas-audit-archiver public-key`: the PEM of the KMS key that signs the digests. */
import { writeFile } from "node:fs/promises";
import { KMSClient } from "@aws-sdk/client-kms";
import { kmsPublicKeyPem } from "../../../lambda/digest/kms";
import { ReaderError } from "../../../lambda/reader/errors";
import { boundedRequestHandler } from "../../../lambda/s3-client";
import { type OptionValues, required, stringOptions } from "../command";
import { formatHelp } from "../help";
import type { CliIo } from "../io";

export const summary = "Print the PEM public key of the digests' KMS key, to verify them offline.";

export const options = stringOptions("digest-key", "out");

export const help = formatHelp({
  usage: "public-key --digest-key ARN [--out FILE]",
  summary,
  options: [
    [
      "--digest-key ARN",
      "The KMS key that signs the digests (the stack's DigestKeyArn output; a key id or alias works too)",
    ],
    ["--out FILE", "Write the PEM to this file (default: print it on stdout)"],
  ],
  environment: [
    [
      "AWS_REGION, AWS_PROFILE, ...",
      "the AWS SDK's usual configuration (kms:GetPublicKey is the only permission it needs)",
    ],
    ["AWS_ENDPOINT_URL_KMS", "a KMS-compatible endpoint"],
  ],
  exitStatus:
    "0 when the key was printed or written, 1 when KMS failed (try again), 2 on a usage error, a key " +
    "that does not exist, is disabled or is no signing key, denied access, or a file that cannot be written.",
});

/** A KMS client configured by the SDK's standard environment (region, credentials, `AWS_ENDPOINT_URL_KMS`). */
export function kmsClientFor(_env: NodeJS.ProcessEnv): KMSClient {
  return new KMSClient({ requestHandler: boundedRequestHandler() });
}

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const keyId = required(values["digest-key"], "digest-key", "ARN", "public-key");
  const kms = kmsClientFor(io.env);
  let pem: string;
  try {
    pem = await kmsPublicKeyPem(kms, keyId);
  } finally {
    kms.destroy();
  }
  if (values.out === undefined) {
    io.stdout.write(pem);
    return 0;
  }
  try {
    await writeFile(values.out, pem);
  } catch (err) {
    throw new ReaderError(
      "READER_OUTPUT_UNWRITABLE",
      `Cannot write ${values.out}: ${(err as Error).message}.`,
      {
        file: values.out,
        cause: err,
      },
    );
  }
  io.stderr.write(`Wrote the public key of ${keyId} to ${values.out}.\n`);
  return 0;
}
