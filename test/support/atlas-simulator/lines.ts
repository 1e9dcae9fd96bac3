/** The deterministic content of a window's audit log. */
import { createHash } from "node:crypto";
import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { EMPTY_GZIP } from "./defaults";
import type { AuditLogRequest, SimulatorOptions } from "./types";

const EVENTS = [
  "authenticate",
  "createStreamProcessor",
  "startStreamProcessor",
  "stopStreamProcessor",
  "modifyStreamProcessor",
  "dropStreamProcessor",
  "sampleStreamProcessor",
  "listStreamProcessors",
] as const;
const PROCESSORS = ["ingest-orders", "enrich-clicks", "sink-s3", null] as const;
const LINES_PER_CHUNK = 256;

function normalize(req: AuditLogRequest): AuditLogRequest {
  const { groupId, tenantName, spName, startDate, endDate } = req;
  return spName
    ? { groupId, tenantName, spName, startDate, endDate }
    : { groupId, tenantName, startDate, endDate };
}

function seedOf(req: AuditLogRequest): Buffer {
  const key = [
    "atlas-simulator/v1",
    req.groupId,
    req.tenantName,
    req.spName ?? "",
    req.startDate,
    req.endDate,
  ];
  return createHash("sha256").update(JSON.stringify(key)).digest();
}

/** sfc32: a small seeded PRNG returning numbers in [0, 1). */
function prng(seed: Buffer): () => number {
  const s = [seed.readUInt32BE(8), seed.readUInt32BE(12), seed.readUInt32BE(16), seed.readUInt32BE(20)];
  return () => {
    const [a = 0, b = 0, c = 0, d = 0] = s;
    const t = (((a + b) | 0) + d) | 0;
    s[3] = (d + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    s[2] = (r + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** The default line count: 0 for about one window in five, otherwise 1..40. */
export function defaultLineCount(req: AuditLogRequest): number {
  const seed = seedOf(normalize(req));
  if (seed.readUInt32BE(0) % 5 === 0) return 0;
  return 1 + (seed.readUInt32BE(4) % 40);
}

/** The line count for a request, validated. */
export function lineCount(req: AuditLogRequest, options?: Pick<SimulatorOptions, "linesPerWindow">): number {
  const norm = normalize(req);
  const n = (options?.linesPerWindow ?? defaultLineCount)(norm);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`linesPerWindow returned ${n}; it must return a non-negative integer`);
  }
  return n;
}

function* generateLines(req: AuditLogRequest, count: number): Generator<string> {
  const seed = seedOf(req);
  const random = prng(seed);
  const startMs = req.startDate * 1000;
  const endMs = req.endDate * 1000;
  const spanMs = endMs - startMs;
  for (let i = 0; i < count; i++) {
    const ts = Math.min(endMs - 1, startMs + Math.floor(((i + random()) * spanMs) / count));
    const event = EVENTS[Math.floor(random() * EVENTS.length)] ?? "authenticate";
    const spName = req.spName ?? PROCESSORS[Math.floor(random() * PROCESSORS.length)] ?? null;
    const id = Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
    yield JSON.stringify({
      ts: new Date(ts).toISOString(),
      seq: i + 1,
      groupId: req.groupId,
      tenantName: req.tenantName,
      spName,
      event,
      user: `svc-${seed.toString("hex", 24, 27)}`,
      payload: { id, docs: Math.floor(random() * 10_000), ok: random() >= 0.1 },
    });
  }
}

/**
 * The exact decompressed lines (without `"\n"`) of the default body for a request.
 *
 * Each line is a JSON object with an ISO `ts` inside `[startDate, endDate)` (ascending), the group,
 * tenant and processor, a 1-based `seq`, an `event` and a small pseudo-random payload; everything is
 * derived from a hash of the request, so the same request always yields the same lines.
 *
 * @example
 * ```ts
 * const lines = expectedLines({ groupId, tenantName: "ws", startDate: 1_754_795_578, endDate: 1_754_795_878 });
 * expect(gunzipSync(body).toString()).toBe(lines.length ? `${lines.join("\n")}\n` : "");
 * ```
 */
export function expectedLines(
  req: AuditLogRequest,
  options?: Pick<SimulatorOptions, "linesPerWindow">,
): string[] {
  const norm = normalize(req);
  return [...generateLines(norm, lineCount(norm, options))];
}

function* lineChunks(req: AuditLogRequest, count: number): Generator<Buffer> {
  let batch: string[] = [];
  for (const line of generateLines(req, count)) {
    batch.push(line);
    if (batch.length === LINES_PER_CHUNK) {
      yield Buffer.from(`${batch.join("\n")}\n`);
      batch = [];
    }
  }
  if (batch.length > 0) yield Buffer.from(`${batch.join("\n")}\n`);
}

/** The default body: exactly {@link EMPTY_GZIP} for an empty window, otherwise a streamed gzip. */
export function defaultBody(req: AuditLogRequest, count: number): Buffer | Readable {
  if (count === 0) return EMPTY_GZIP;
  return pipeline(Readable.from(lineChunks(normalize(req), count)), createGzip(), () => {});
}
