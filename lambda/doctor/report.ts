/**
 * What `doctor` reports: one line per check, in order, each ok, a note (`warn`: works, but a
 * protection is missing or could not be read), a failure with its fix, or skipped (a check it
 * depends on failed).
 */

/** A check's verdict. Only `fail` fails the doctor; `warn` is a note that does not stop a run. */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** The checks, in the order they run. */
export type CheckId =
  | "config"
  | "credentials"
  | "workspace"
  | "access-list"
  | "bucket"
  | "bucket-region"
  | "bucket-encryption"
  | "bucket-versioning"
  | "bucket-object-lock"
  | "write"
  | "kms";

/** One check's result. */
export interface DoctorCheck {
  readonly id: CheckId;
  /** What was checked, e.g. `bucket archive-logs` or `workspace 32b6…/prod`. */
  readonly subject: string;
  readonly status: CheckStatus;
  /** What was found, naming the failing value. */
  readonly detail: string;
  /** What to do, on a `fail` or `warn`. */
  readonly fix?: string;
  /** The error code behind a failure (`ATLAS_FORBIDDEN`, `AccessDenied`, `IP_ADDRESS_NOT_ON_ACCESS_LIST`, ...). */
  readonly code?: string;
  /** How long it took. */
  readonly ms: number;
}

/** Every check's result, in order. */
export interface DoctorReport {
  /** No check failed (notes allowed). */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

/** The report of `checks`: ok when none failed. */
export function doctorReport(checks: readonly DoctorCheck[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== "fail"), checks };
}

/** A check's result without its duration (the runner measures it). */
export type CheckResult = Omit<DoctorCheck, "ms">;

/** The result of a check not run because `reason` (e.g. "the parameter file is invalid"). */
export function skipped(id: CheckId, subject: string, reason: string): CheckResult {
  return { id, subject, status: "skip", detail: `not checked: ${reason}` };
}

/** Runs checks one after another, timing each and handing it on as soon as it is done. */
export class CheckRecorder {
  readonly checks: DoctorCheck[] = [];

  constructor(
    private readonly clock: () => number,
    private readonly onCheck?: (check: DoctorCheck) => void,
  ) {}

  /** Runs `check`, records its result with its duration, and returns it. */
  async run(check: () => Promise<CheckResult> | CheckResult): Promise<DoctorCheck> {
    const startedMs = this.clock();
    const result = await check();
    return this.add(result, this.clock() - startedMs);
  }

  /** Records a result measured elsewhere (or a skipped check: 0 ms). */
  add(result: CheckResult, ms = 0): DoctorCheck {
    const check = { ...result, ms };
    this.checks.push(check);
    this.onCheck?.(check);
    return check;
  }
}
