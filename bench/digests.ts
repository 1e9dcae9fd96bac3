/**
 * What the digests cost (issue 13): the requests that receipts and sealing add, counted while the
 * deployed design runs hour by hour with digests off and on, their price per month, and what
 * `verify` costs against the digests (SHA-256 of every sealed object, the digests read and their
 * signatures checked) next to a CRC-only `verify` of the same archive. Each measurement runs in a
 * fresh process against the Atlas simulator and the loopback S3; KMS is moto's server when
 * `moto_server` is installed (its Sign requests counted), otherwise a local P-256 key whose
 * signatures are counted instead.
 */
import { KMSClient } from "@aws-sdk/client-kms";
import { kmsPublicKeyPem } from "../lambda/digest/kms";
import { startAtlasSimulator } from "../test/support/atlas-simulator";
import { createSigningKey, type MotoServer, motoAvailable, startMoto } from "../test/support/moto";
import { auditCompressionRatio, auditLikeGzip } from "./audit-gzip";
import type { S3Host } from "./servers";
import { runChild } from "./servers";
import { mbPerSecond, median, mib, round } from "./stats";
import type { DigestsMeasures, DigestsSigning, RequestCounts, Task, TaskResult } from "./tasks";

/** The shape of the digests section. */
export interface DigestsPlan {
  /** The steady state: `projects` × `perProject` hourly workspaces, `days` of hourly runs measured. */
  readonly steady: {
    readonly projects: number;
    readonly perProject: number;
    readonly days: number;
    /** The warm-up's backfill, in days before the first scheduled run. */
    readonly backfillDays: number;
  };
  /** The archive of large logs `verify` reads: a UTC day of hourly windows for `workspaces` workspaces. */
  readonly large: {
    readonly workspaces: number;
    readonly windowMinutes: number;
    /** At least this many bytes of audit-like gzip per window (whole members of about 3.2 MB). */
    readonly bytesPerWindow: number;
  };
  /** Each `verify` is run this many times, the modes taking turns; the median is reported. */
  readonly verifyRepetitions: number;
  /** What the monthly cost is priced for. */
  readonly pricedWorkspaces: number;
}

/** One steady-state run (digests off or on): every request of the measured runs. */
export interface SteadyRun {
  readonly seal: boolean;
  readonly workspaces: number;
  /** Scheduled runs measured. */
  readonly runs: number;
  readonly windows: number;
  readonly sealedDays: number;
  readonly warmupSealedDays: number;
  readonly seconds: number;
  /** By phase (`planner`, `seal`, `worker`), area (`archive`, `receipts`, `digests`, `kms`) and command. */
  readonly requests: RequestCounts;
  /** Every request by operation (S3 command, or `KMS Sign`) per window archived. */
  readonly perWindow: Readonly<Record<string, number>>;
}

/** A price, per `per` requests. */
export interface Price {
  readonly operation: string;
  readonly dollars: number;
  readonly per: number;
}

/** One operation's extra requests a month, and their price. */
export interface CostLine {
  readonly operation: string;
  readonly requestsPerMonth: number;
  readonly price: string;
  readonly dollars: number;
}

/** One `verify` over one archive in one mode (medians over the repetitions). */
export interface VerifyRun {
  readonly archive: "steady" | "large";
  readonly mode: "crc-only" | "digests";
  readonly objects: number;
  readonly bytes: number;
  readonly digests: number;
  readonly sealedDays: number;
  readonly repetitions: number;
  readonly seconds: number;
  readonly MBps: number;
  readonly objectsPerSecond: number;
  readonly cpuSeconds: number;
  readonly peakRssMiB: number;
  /** Requests of one verify, by command. */
  readonly requests: Readonly<Record<string, number>>;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/** What {@link measureDigests} reports. */
export interface DigestsResult {
  readonly plan: DigestsPlan;
  /** `kms`: moto's KMS, Sign requests counted on the wire; `local`: a local key, signatures counted. */
  readonly signing: "kms" | "local";
  readonly steady: {
    readonly off: SteadyRun;
    readonly on: SteadyRun;
    /** Requests per window without the integrity records: the off run's, receipts left out. */
    readonly archiveOnlyPerWindow: Readonly<Record<string, number>>;
    /** Digests on against the archive alone, per window, by operation. */
    readonly extraPerWindow: Readonly<Record<string, number>>;
    /** The same per sealed day (one workspace's day), by phase, area and operation. */
    readonly extraPerSealedDay: ReadonlyArray<{
      readonly phase: string;
      readonly area: string;
      readonly operation: string;
      readonly requests: number;
    }>;
  };
  readonly cost: {
    readonly region: string;
    readonly workspaces: number;
    readonly hoursPerMonth: number;
    readonly prices: readonly Price[];
    readonly keyDollarsPerMonth: number;
    readonly lines: readonly CostLine[];
    /** Requests and the key. */
    readonly totalDollars: number;
  };
  readonly verify: readonly VerifyRun[];
  /** Digests against CRC-only, MB/s, per archive. */
  readonly verifySpeedRatio: Readonly<Record<string, number>>;
}

/**
 * List prices, us-east-1, no free tier (checked 2026-12-02 on aws.amazon.com/s3/pricing and
 * /kms/pricing): S3 Standard PUT, COPY, POST, LIST $0.005 per 1,000 (CreateMultipartUpload,
 * UploadPart and CompleteMultipartUpload are POST/PUT requests), GET and every other request
 * (HEAD) $0.0004 per 1,000; KMS asymmetric requests (other than RSA 2048) $0.15 per 10,000, and
 * $1 a month per customer managed key.
 */
export const PRICES: readonly Price[] = [
  { operation: "PutObject", dollars: 0.005, per: 1000 },
  { operation: "ListObjectsV2", dollars: 0.005, per: 1000 },
  { operation: "CreateMultipartUpload", dollars: 0.005, per: 1000 },
  { operation: "UploadPart", dollars: 0.005, per: 1000 },
  { operation: "CompleteMultipartUpload", dollars: 0.005, per: 1000 },
  { operation: "GetObject", dollars: 0.0004, per: 1000 },
  { operation: "HeadObject", dollars: 0.0004, per: 1000 },
  { operation: "KMS Sign", dollars: 0.15, per: 10_000 },
];
const KEY_DOLLARS_PER_MONTH = 1;
/** An hourly schedule's runs a month (365 × 24 / 12), as the queue design's cost model counts them. */
const HOURS_PER_MONTH = 730;
/** A UTC midnight to start the steady state at (any past day: the simulator serves every window). */
const STEADY_START_MS = Date.UTC(2026, 9, 5);
const LARGE_DATE = "2026-10-20";

/** The operation a request is priced as: the S3 command, or `KMS Sign`. */
function operationOf(area: string, command: string): string {
  return area === "kms" ? `KMS ${command}` : command;
}

/** Every request of `counts` by operation, over the phases and areas `keep` accepts. */
function byOperation(
  counts: RequestCounts,
  keep: (phase: string, area: string) => boolean = () => true,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [phase, areas] of Object.entries(counts)) {
    for (const [area, commands] of Object.entries(areas)) {
      if (!keep(phase, area)) continue;
      for (const [command, n] of Object.entries(commands)) {
        const op = operationOf(area, command);
        out[op] = (out[op] ?? 0) + n;
      }
    }
  }
  return out;
}

function divided(counts: Readonly<Record<string, number>>, by: number, digits = 3): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([op, n]) => [op, round(n / by, digits)]));
}

/** The KMS signing: moto's server with the stack's kind of key, or a local key where moto is missing. */
async function startSigning(
  progress: (line: string) => void,
): Promise<{ signing: DigestsSigning; publicKeyPem?: string; close(): Promise<void> }> {
  if (!motoAvailable()) {
    progress(
      'moto_server not found: KMS Sign counted at a local P-256 signer instead of on the wire (pip install "moto[server]")',
    );
    return { signing: { kind: "local" }, close: async () => {} };
  }
  const moto: MotoServer = await startMoto();
  const kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  try {
    const keyArn = await createSigningKey(moto, "atlas-audit-archiver bench digests");
    const publicKeyPem = await kmsPublicKeyPem(kms, keyArn);
    return {
      signing: { kind: "kms", endpoint: moto.endpoint, keyArn },
      publicKeyPem,
      close: () => moto.close(),
    };
  } catch (err) {
    await moto.close();
    throw err;
  } finally {
    kms.destroy();
  }
}

/** Runs `task` in a child against a fresh simulator (optionally serving large logs). */
async function withSimulator(task: (atlasUrl: string) => Task, bytesPerWindow?: number): Promise<TaskResult> {
  if (bytesPerWindow !== undefined) auditCompressionRatio();
  const sim = await startAtlasSimulator(
    bytesPerWindow === undefined ? {} : { body: () => auditLikeGzip(bytesPerWindow) },
  );
  try {
    return await runChild(task(sim.baseUrl));
  } finally {
    await sim.close();
  }
}

function measuresOf(result: TaskResult): DigestsMeasures {
  if (!result.digests) throw new Error("A digests measurement reported no counts");
  return result.digests;
}

/** Runs the digests section: steady state off and on, the large archive off and on, then `verify` of each. */
export async function measureDigests(
  plan: DigestsPlan,
  s3: S3Host,
  progress: (line: string) => void,
): Promise<DigestsResult> {
  const endpoints = (atlasUrl: string) => ({ atlasUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket });
  const signing = await startSigning(progress);
  try {
    const { projects, perProject, days, backfillDays } = plan.steady;
    const workspaces = projects * perProject;
    const steady = async (seal: boolean) => {
      const prefix = `bench/digests/steady-${seal ? "on" : "off"}/`;
      progress(
        `digests: ${workspaces} workspaces, ${days} day(s) of hourly runs, digests ${seal ? "on" : "off"}`,
      );
      const r = await withSimulator((url) => ({
        kind: "digests-steady",
        endpoints: endpoints(url),
        prefix,
        projects,
        perProject,
        startMs: STEADY_START_MS,
        backfillDays,
        days,
        seal,
        ...(seal ? { signing: signing.signing } : {}),
      }));
      const m = measuresOf(r);
      const windows = m.windows ?? 0;
      const run: SteadyRun = {
        seal,
        workspaces,
        runs: m.runs ?? 0,
        windows,
        sealedDays: m.sealedDays ?? 0,
        warmupSealedDays: m.warmupSealedDays ?? 0,
        seconds: round(r.seconds, 2),
        requests: m.requests,
        perWindow: divided(byOperation(m.requests), Math.max(1, windows)),
      };
      return { run, prefix, endMs: m.endMs ?? 0, publicKeyPem: m.publicKeyPem ?? signing.publicKeyPem };
    };
    const off = await steady(false);
    const on = await steady(true);

    const { workspaces: largeWorkspaces, windowMinutes, bytesPerWindow } = plan.large;
    const windowsPerDay = (24 * 60) / windowMinutes;
    const large = async (seal: boolean) => {
      const prefix = `bench/digests/large-${seal ? "on" : "off"}/`;
      progress(
        `digests: archive of ${largeWorkspaces} × ${windowsPerDay} logs of audit-like gzip, ` +
          `${seal ? "sealed" : "not sealed"}`,
      );
      const r = await withSimulator(
        (url) => ({
          kind: "digests-archive",
          endpoints: endpoints(url),
          prefix,
          workspaces: largeWorkspaces,
          windowMinutes,
          date: LARGE_DATE,
          seal,
          ...(seal ? { signing: signing.signing } : {}),
        }),
        bytesPerWindow,
      );
      const m = measuresOf(r);
      return { prefix, endMs: m.endMs ?? 0, publicKeyPem: m.publicKeyPem ?? signing.publicKeyPem };
    };
    const largeOff = await large(false);
    const largeOn = await large(true);

    const targets = [
      { archive: "steady" as const, mode: "crc-only" as const, archived: off, windowMinutes: 60 },
      { archive: "steady" as const, mode: "digests" as const, archived: on, windowMinutes: 60 },
      { archive: "large" as const, mode: "crc-only" as const, archived: largeOff, windowMinutes },
      { archive: "large" as const, mode: "digests" as const, archived: largeOn, windowMinutes },
    ];
    const results = targets.map(() => [] as TaskResult[]);
    for (let rep = 0; rep < plan.verifyRepetitions; rep++) {
      progress(`digests: verify, repetition ${rep + 1} of ${plan.verifyRepetitions}`);
      for (const [i, t] of targets.entries()) {
        const pem = t.mode === "digests" ? t.archived.publicKeyPem : undefined;
        if (t.mode === "digests" && pem === undefined) throw new Error("No public key for the digests");
        results[i]?.push(
          await runChild({
            kind: "digests-verify",
            // verify reads S3 only.
            endpoints: endpoints(""),
            prefix: t.archived.prefix,
            nowMs: t.archived.endMs,
            windowMinutes: t.windowMinutes,
            ...(pem === undefined ? {} : { publicKeyPem: pem }),
          }),
        );
      }
    }
    const verify: VerifyRun[] = targets.map((t, i) => {
      const runs = results[i] ?? [];
      const last = measuresOf(runs.at(-1) as TaskResult);
      const v = last.verify;
      if (!v) throw new Error("A verify measurement reported no report");
      const seconds = median(runs.map((r) => r.seconds));
      return {
        archive: t.archive,
        mode: t.mode,
        objects: v.checked,
        bytes: v.bytes,
        digests: v.digests,
        sealedDays: v.sealedDays,
        repetitions: runs.length,
        seconds: round(seconds, 3),
        MBps: round(mbPerSecond(v.bytes, seconds), 2),
        objectsPerSecond: round(v.checked / seconds, 1),
        cpuSeconds: round(median(runs.map((r) => r.cpuSeconds)), 2),
        peakRssMiB: round(mib(Math.max(...runs.map((r) => r.peakRssBytes))), 1),
        requests: byOperation(last.requests),
        ok: runs.every((r) => r.digests?.verify?.ok === true),
        problems: v.problems,
      };
    });
    const ratio = (archive: string) => {
      const crc = verify.find((v) => v.archive === archive && v.mode === "crc-only");
      const dig = verify.find((v) => v.archive === archive && v.mode === "digests");
      // The same bytes in both modes: the ratio of the times, not of the rounded speeds.
      return round((crc?.seconds ?? Number.NaN) / (dig?.seconds ?? Number.NaN), 2);
    };

    const archiveOnly = byOperation(off.run.requests, (_phase, area) => area === "archive");
    const onAll = byOperation(on.run.requests);
    const windows = Math.max(1, on.run.windows);
    const extra: Record<string, number> = {};
    for (const op of new Set([...Object.keys(onAll), ...Object.keys(archiveOnly)])) {
      // Both runs archive the same windows of the same workspaces: per window, on less archive only.
      const n = (onAll[op] ?? 0) / windows - (archiveOnly[op] ?? 0) / Math.max(1, off.run.windows);
      if (Math.abs(n) > 1e-9) extra[op] = n;
    }
    const perDay: DigestsResult["steady"]["extraPerSealedDay"][number][] = [];
    for (const [phase, areas] of Object.entries(on.run.requests)) {
      for (const [area, commands] of Object.entries(areas)) {
        if (phase !== "seal" && area === "archive") continue;
        for (const [command, n] of Object.entries(commands)) {
          perDay.push({
            phase,
            area,
            operation: operationOf(area, command),
            requests: round(n / Math.max(1, on.run.sealedDays), 3),
          });
        }
      }
    }
    const monthly = HOURS_PER_MONTH * plan.pricedWorkspaces;
    const lines: CostLine[] = Object.entries(extra)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([operation, n]) => {
        const price = PRICES.find((p) => p.operation === operation);
        if (!price) throw new Error(`No price for ${operation}`);
        const requestsPerMonth = Math.round(n * monthly);
        return {
          operation,
          requestsPerMonth,
          price: `$${price.dollars} per ${price.per.toLocaleString("en-US")}`,
          dollars: round((requestsPerMonth / price.per) * price.dollars, 2),
        };
      });
    return {
      plan,
      signing: signing.signing.kind,
      steady: {
        off: off.run,
        on: on.run,
        archiveOnlyPerWindow: divided(archiveOnly, Math.max(1, off.run.windows)),
        extraPerWindow: Object.fromEntries(Object.entries(extra).map(([op, n]) => [op, round(n, 3)])),
        extraPerSealedDay: perDay,
      },
      cost: {
        region: "us-east-1",
        workspaces: plan.pricedWorkspaces,
        hoursPerMonth: HOURS_PER_MONTH,
        prices: PRICES,
        keyDollarsPerMonth: KEY_DOLLARS_PER_MONTH,
        lines,
        totalDollars: round(lines.reduce((s, l) => s + l.dollars, 0) + KEY_DOLLARS_PER_MONTH, 2),
      },
      verify,
      verifySpeedRatio: { steady: ratio("steady"), large: ratio("large") },
    };
  } finally {
    await signing.close();
  }
}
