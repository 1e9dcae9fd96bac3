/**
 * Large gzip logs that compress like real audit logs. The tests' `largeGzip` stores its lines
 * uncompressed (gzip level 0), which makes it cheap to produce but also cheap to check: inflating
 * stored blocks is a copy. Atlas's audit logs are JSON lines that gzip about ten to one, and
 * inflating them is most of the archiver's CPU time, so the benchmark measures with data like that.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

/** Uncompressed text per gzip member: large enough for a realistic ratio, quick to compress once. */
const MEMBER_TEXT_BYTES = 32 * 1024 * 1024;
/** Chunks the stream hands out, like a socket read regrouped by the simulator. */
const CHUNK_BYTES = 1024 * 1024;

const ACTIONS = [
  "authenticate",
  "createStreamProcessor",
  "startStreamProcessor",
  "stopStreamProcessor",
  "getStreamProcessor",
  "listConnections",
];
const USERS = ["svc-ingest", "alice@example.com", "bob@example.com", "etl-bot"];

let member: { readonly gzip: Buffer; readonly textBytes: number } | undefined;

/**
 * One gzip member of audit-like JSON lines (the fields of a stream processing audit event with
 * pseudo-random ids, addresses and times), made once per process and reused.
 */
function auditMember(): { readonly gzip: Buffer; readonly textBytes: number } {
  if (member) return member;
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < MEMBER_TEXT_BYTES; i++) {
    const r = next();
    const id = createHash("md5").update(String(next())).digest("base64");
    const line = `${JSON.stringify({
      atype: ACTIONS[r % ACTIONS.length],
      ts: { $date: new Date(1_764_000_000_000 + i * 37).toISOString() },
      uuid: { $binary: { base64: id, subType: "04" } },
      local: { ip: `10.0.${r % 255}.${(r >>> 8) % 255}`, port: 27017 },
      remote: { ip: `203.0.113.${(r >>> 16) % 255}`, port: 40_000 + (r % 20_000) },
      users: [{ user: USERS[r % USERS.length], db: "admin" }],
      roles: [{ role: "atlasAdmin", db: "admin" }],
      param: { name: `sp${r % 50}`, pipeline: [{ $source: { connectionName: `kafka${r % 5}` } }] },
      result: r % 20 === 0 ? 13 : 0,
    })}\n`;
    lines.push(line);
    size += line.length;
  }
  member = { gzip: gzipSync(Buffer.from(lines.join("")), { level: 6 }), textBytes: size };
  return member;
}

/** How the audit-like data compresses: uncompressed bytes per gzip byte. */
export function auditCompressionRatio(): number {
  const { gzip, textBytes } = auditMember();
  return textBytes / gzip.length;
}

/**
 * At least `bytes` of valid multi-member gzip (whole members of about 3 MB each), in 1 MiB chunks.
 *
 * @example
 * ```ts
 * auditLikeGzip(64_000_000).pipe(response);
 * ```
 */
export function auditLikeGzip(bytes: number): Readable {
  const { gzip } = auditMember();
  const members = Math.max(1, Math.ceil(bytes / gzip.length));
  return Readable.from(
    (function* () {
      for (let m = 0; m < members; m++) {
        for (let at = 0; at < gzip.length; at += CHUNK_BYTES) yield gzip.subarray(at, at + CHUNK_BYTES);
      }
    })(),
    { objectMode: false },
  );
}
