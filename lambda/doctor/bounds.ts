/** The bounds of `doctor`'s checks: each is resolved here only, and documented in its help. */

/** The bounds of one doctor run. */
export interface DoctorBounds {
  /** One Atlas call (a token request, a workspace's probe download with its body), retries included. */
  readonly atlasCallMs: number;
  /** One S3 request (a listing, a bucket setting, the write probe), the SDK's retries included. */
  readonly s3CallMs: number;
  /** One KMS request (GetPublicKey, Sign). */
  readonly kmsCallMs: number;
  /** The most bytes of a probe download read (and discarded); the rest is not downloaded. */
  readonly probeBytes: number;
  /** The length of the probe window: the end of the latest due window, this much before it. */
  readonly probeWindowMs: number;
  /** Workspaces probed at once. */
  readonly workspaceConcurrency: number;
}

/**
 * 30 s per Atlas call (a token reply or a one-minute log's first bytes take well under a second;
 * an Atlas that is unreachable is named within this instead of after a run's 114 s of retries),
 * 15 s per S3 or KMS request, at most 1 MiB of a probe read, a one-minute probe window, 4
 * workspaces probed at once.
 */
export const DEFAULT_DOCTOR_BOUNDS: DoctorBounds = {
  atlasCallMs: 30_000,
  s3CallMs: 15_000,
  kmsCallMs: 15_000,
  probeBytes: 1024 * 1024,
  probeWindowMs: 60_000,
  workspaceConcurrency: 4,
};
