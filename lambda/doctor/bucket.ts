/**
 * The doctor's bucket checks: the bucket exists and can be listed under the prefix (as every run
 * lists it), its region, default encryption, versioning and Object Lock, and write permission
 * under the prefix proven without writing anything: a PutObject whose `x-amz-checksum-crc32` does
 * not match its body. S3 authorizes a request before it reads the body and checks the checksum
 * only after, so 400 `BadDigest` proves the permission, 403 `AccessDenied` its absence, and in
 * neither case is an object stored.
 */
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import {
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { compactUtc } from "../config";
import type { DoctorBounds } from "./bounds";
import type { CheckRecorder, CheckResult } from "./report";
import { skipped } from "./report";

/** What the bucket checks work with. */
export interface BucketChecks {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The archive prefix: `""` or ending in `/`. */
  readonly prefix: string;
  readonly nowMs: number;
  readonly bounds: DoctorBounds;
}

/** The folder below the prefix where the write probe's key is (nothing is stored there). */
export const PROBE_FOLDER = "_doctor/";

/** The codes a store answers for a body that does not match its checksum: authorized, not stored. */
const DIGEST_REFUSALS = new Set(["BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"]);

/** What an S3 error is called and its HTTP status. */
function s3Error(err: unknown): { name: string; status: number | undefined; message: string } {
  const e = err as {
    name?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number };
    message?: string;
  };
  return {
    name: e?.Code ?? e?.name ?? "Error",
    status: e?.$metadata?.httpStatusCode,
    message: e?.message ?? String(err),
  };
}

/** The region a `LocationConstraint` names (S3 answers none for us-east-1, `EU` for eu-west-1). */
export function locationRegion(constraint: string | undefined): string {
  if (!constraint) return "us-east-1";
  return constraint === "EU" ? "eu-west-1" : constraint;
}

/**
 * A bucket setting's line when reading it failed: a store that does not implement the request,
 * or a caller not allowed to read it, is a note (the archiver does not need it); anything else
 * too, with the error named.
 */
function unreadable(
  id: CheckResult["id"],
  subject: string,
  err: unknown,
  action: string,
  bounds: DoctorBounds,
  signal: AbortSignal,
): CheckResult {
  if (signal.aborted) {
    return {
      id,
      subject,
      status: "warn",
      code: "DOCTOR_TIMEOUT",
      detail: `no answer within ${bounds.s3CallMs / 1000} s`,
    };
  }
  const { name, status, message } = s3Error(err);
  if (name === "NotImplemented" || status === 501) {
    return {
      id,
      subject,
      status: "warn",
      code: name,
      detail: "this store does not report it (NotImplemented)",
    };
  }
  if (name === "AccessDenied" || status === 403) {
    return {
      id,
      subject,
      status: "warn",
      code: name,
      detail: `not readable: ${action} was denied`,
      fix: `allow ${action} on the bucket to check it (the archiver itself does not need it)`,
    };
  }
  return { id, subject, status: "warn", code: name, detail: `not readable (${name}: ${message})` };
}

/** Sends `command` bounded by {@link DoctorBounds.s3CallMs}; hands the signal to `onError`. */
async function bounded<T>(
  bounds: DoctorBounds,
  send: (signal: AbortSignal) => Promise<T>,
  onError: (err: unknown, signal: AbortSignal) => CheckResult,
  onAnswer: (answer: T) => CheckResult,
): Promise<CheckResult> {
  const signal = AbortSignal.timeout(bounds.s3CallMs);
  let answer: T;
  try {
    answer = await send(signal);
  } catch (err) {
    return onError(err, signal);
  }
  return onAnswer(answer);
}

/** Runs the bucket checks and the write probe, one line each. */
export async function checkBucket(input: BucketChecks, recorder: CheckRecorder): Promise<void> {
  const { s3, bucket, prefix, bounds } = input;
  const where = `s3://${bucket}/${prefix}`;
  const exists = await recorder.run(() =>
    bounded(
      bounds,
      (signal) =>
        s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), {
          abortSignal: signal,
        }),
      (err, signal): CheckResult => {
        const subject = `bucket ${bucket}`;
        if (signal.aborted) {
          return {
            id: "bucket",
            subject,
            status: "fail",
            code: "DOCTOR_TIMEOUT",
            detail: `no answer to a listing of ${where} within ${bounds.s3CallMs / 1000} s`,
            fix: "check the S3 endpoint (AWS_ENDPOINT_URL_S3), the region (AWS_REGION) and the network path to S3",
          };
        }
        const { name, status, message } = s3Error(err);
        const fix =
          name === "NoSuchBucket" || status === 404
            ? `create the bucket, or fix its name (archive.bucket in the parameter file, or ARCHIVE_BUCKET)`
            : name === "AccessDenied" || status === 403
              ? `allow s3:ListBucket on arn:aws:s3:::${bucket}${prefix ? ` for the prefix ${prefix}*` : ""}`
              : name === "PermanentRedirect" || status === 301
                ? "set AWS_REGION to the bucket's region (the stack deploys its functions there)"
                : name === "CredentialsProviderError"
                  ? "give the AWS SDK credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role)"
                  : "see the message; every run lists the bucket this way";
        const detail =
          name === "NoSuchBucket" || status === 404
            ? `bucket ${bucket} does not exist (NoSuchBucket)`
            : `listing ${where} failed (${name}${status ? ` ${status}` : ""}: ${message})`;
        return { id: "bucket", subject, status: "fail", code: name, detail, fix };
      },
      (answer) => ({
        id: "bucket",
        subject: `bucket ${bucket}`,
        status: "ok",
        detail: `exists; ${where} can be listed (${answer.KeyCount ? "holds objects" : "empty so far"})`,
      }),
    ),
  );
  const settings = [
    ["bucket-region", "region"],
    ["bucket-encryption", "default encryption"],
    ["bucket-versioning", "versioning"],
    ["bucket-object-lock", "Object Lock"],
    ["write", `write permission under ${where}`],
  ] as const;
  if (exists.status === "fail" && exists.code !== "AccessDenied") {
    for (const [id, subject] of settings)
      recorder.add(skipped(id, subject, `the bucket ${bucket} cannot be reached`));
    return;
  }
  await recorder.run(() => region(input));
  await recorder.run(() => encryption(input));
  await recorder.run(() => versioning(input));
  await recorder.run(() => objectLock(input));
  await recorder.run(() => writeProbe(input));
}

async function region(input: BucketChecks): Promise<CheckResult> {
  const { s3, bucket, bounds } = input;
  const subject = "region";
  const clientRegion = await s3.config.region();
  return bounded(
    bounds,
    (signal) => s3.send(new GetBucketLocationCommand({ Bucket: bucket }), { abortSignal: signal }),
    (err, signal) => unreadable("bucket-region", subject, err, "s3:GetBucketLocation", bounds, signal),
    (answer): CheckResult => {
      const found = locationRegion(answer.LocationConstraint);
      return found === clientRegion
        ? { id: "bucket-region", subject, status: "ok", detail: `${found}, the region this caller uses` }
        : {
            id: "bucket-region",
            subject,
            status: "warn",
            detail: `the bucket is in ${found}, this caller uses ${clientRegion}`,
            fix: `set AWS_REGION=${found}, and deploy the stack in ${found} (cross-region requests cost transfer and may be redirected)`,
          };
    },
  );
}

async function encryption(input: BucketChecks): Promise<CheckResult> {
  const { s3, bucket, bounds } = input;
  const subject = "default encryption";
  return bounded(
    bounds,
    (signal) => s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }), { abortSignal: signal }),
    (err, signal): CheckResult => {
      if (s3Error(err).name === "ServerSideEncryptionConfigurationNotFoundError") {
        return {
          id: "bucket-encryption",
          subject,
          status: "warn",
          code: "ServerSideEncryptionConfigurationNotFoundError",
          detail: "none configured",
          fix: "enable default encryption (SSE-S3, or SSE-KMS with a key the functions may use); the stack's own bucket uses SSE-S3",
        };
      }
      return unreadable("bucket-encryption", subject, err, "s3:GetEncryptionConfiguration", bounds, signal);
    },
    (answer): CheckResult => {
      const rule = answer.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
      const algorithm = rule?.SSEAlgorithm;
      if (!algorithm) {
        return { id: "bucket-encryption", subject, status: "warn", detail: "the answer names no algorithm" };
      }
      const name = algorithm === "AES256" ? "SSE-S3 (AES256)" : `SSE-KMS (${algorithm})`;
      const key = rule.KMSMasterKeyID ? `, key ${rule.KMSMasterKeyID}` : "";
      return { id: "bucket-encryption", subject, status: "ok", detail: `${name}${key}` };
    },
  );
}

async function versioning(input: BucketChecks): Promise<CheckResult> {
  const { s3, bucket, bounds } = input;
  const subject = "versioning";
  return bounded(
    bounds,
    (signal) => s3.send(new GetBucketVersioningCommand({ Bucket: bucket }), { abortSignal: signal }),
    (err, signal) => unreadable("bucket-versioning", subject, err, "s3:GetBucketVersioning", bounds, signal),
    (answer): CheckResult =>
      answer.Status === "Enabled"
        ? { id: "bucket-versioning", subject, status: "ok", detail: "enabled" }
        : {
            id: "bucket-versioning",
            subject,
            status: "warn",
            detail: answer.Status === "Suspended" ? "suspended" : "never enabled",
            fix: "enable versioning, so that an overwritten or deleted log can be recovered (Object Lock needs it too)",
          },
  );
}

async function objectLock(input: BucketChecks): Promise<CheckResult> {
  const { s3, bucket, bounds } = input;
  const subject = "Object Lock";
  const off: CheckResult = {
    id: "bucket-object-lock",
    subject,
    status: "warn",
    detail: "off: whoever may s3:DeleteObject can delete archived logs",
    fix: "for write-once retention, enable Object Lock with a default retention (COMPLIANCE mode for audit evidence)",
  };
  return bounded(
    bounds,
    (signal) => s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }), { abortSignal: signal }),
    (err, signal): CheckResult =>
      s3Error(err).name === "ObjectLockConfigurationNotFoundError"
        ? { ...off, code: "ObjectLockConfigurationNotFoundError" }
        : unreadable(
            "bucket-object-lock",
            subject,
            err,
            "s3:GetBucketObjectLockConfiguration",
            bounds,
            signal,
          ),
    (answer): CheckResult => {
      const config = answer.ObjectLockConfiguration;
      if (config?.ObjectLockEnabled !== "Enabled") return off;
      const retention = config.Rule?.DefaultRetention;
      if (!retention?.Mode) {
        return {
          id: "bucket-object-lock",
          subject,
          status: "warn",
          detail: "enabled without a default retention: new logs are not locked",
          fix: "set a default retention (COMPLIANCE mode, as long as the logs must be kept)",
        };
      }
      const span = retention.Days !== undefined ? `${retention.Days} days` : `${retention.Years} years`;
      return {
        id: "bucket-object-lock",
        subject,
        status: "ok",
        detail: `enabled: ${retention.Mode}, ${span} by default`,
      };
    },
  );
}

/**
 * The write probe: a PutObject under the prefix whose CRC32 does not match its body, conditional
 * (`If-None-Match: *`) on a key of its own. A store that stores it anyway (it does not check
 * checksums as S3 does) proves the permission too; the probe is then deleted if the caller may.
 */
async function writeProbe(input: BucketChecks): Promise<CheckResult> {
  const { s3, bucket, prefix, bounds } = input;
  const key = `${prefix}${PROBE_FOLDER}write-probe-${compactUtc(input.nowMs)}-${randomBytes(4).toString("hex")}`;
  const subject = `write permission under s3://${bucket}/${prefix}`;
  const body = Buffer.from(
    "atlas-audit-archiver doctor: a write probe that S3 refuses (its CRC32 does not match)\n",
  );
  const wrong = Buffer.alloc(4);
  wrong.writeUInt32BE((crc32(body) ^ 1) >>> 0);
  return bounded(
    bounds,
    (signal) =>
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          // The algorithm declared too: a bucket with Object Lock refuses a PutObject without it.
          ChecksumAlgorithm: "CRC32",
          ChecksumCRC32: wrong.toString("base64"),
          IfNoneMatch: "*",
        }),
        { abortSignal: signal },
      ),
    (err, signal): CheckResult => {
      if (signal.aborted) {
        return {
          id: "write",
          subject,
          status: "fail",
          code: "DOCTOR_TIMEOUT",
          detail: `no answer to the write probe within ${bounds.s3CallMs / 1000} s`,
        };
      }
      const { name, status, message } = s3Error(err);
      if (DIGEST_REFUSALS.has(name)) {
        return {
          id: "write",
          subject,
          status: "ok",
          detail: `PutObject is allowed: the probe (${key}) was refused as ${name} after authorization, and nothing was written`,
        };
      }
      if (name === "AccessDenied" || status === 403) {
        return {
          id: "write",
          subject,
          status: "fail",
          code: name,
          detail: `PutObject under ${prefix || "the bucket's root"} is denied (${name}: ${message})`,
          fix: `allow s3:PutObject on arn:aws:s3:::${bucket}/${prefix}* (and kms:GenerateDataKey on an SSE-KMS bucket's key)`,
        };
      }
      return {
        id: "write",
        subject,
        status: "fail",
        code: name,
        detail: `the write probe failed (${name}${status ? ` ${status}` : ""}: ${message})`,
        fix: "see the message; every window is written this way",
      };
    },
    () => ({
      id: "write",
      subject,
      status: "warn",
      code: "CHECKSUM_NOT_VERIFIED",
      detail:
        `PutObject is allowed, but this store accepted a body that does not match its CRC32 (S3 refuses it): ` +
        `it does not verify checksums, and the probe object ${key} was written`,
      fix: `delete s3://${bucket}/${key} if the delete below did not`,
    }),
  ).then((result) =>
    result.code === "CHECKSUM_NOT_VERIFIED" ? removeProbe(s3, bucket, key, result, bounds) : result,
  );
}

/** Deletes a probe a store wrote after all (best effort: the worker, for one, may not delete). */
async function removeProbe(
  s3: S3Client,
  bucket: string,
  key: string,
  result: CheckResult,
  bounds: DoctorBounds,
): Promise<CheckResult> {
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), {
      abortSignal: AbortSignal.timeout(bounds.s3CallMs),
    });
    const { fix: _fix, ...rest } = result;
    return { ...rest, detail: `${result.detail}, then deleted` };
  } catch (err) {
    return { ...result, fix: `delete s3://${bucket}/${key} by hand (DeleteObject: ${s3Error(err).name})` };
  }
}
