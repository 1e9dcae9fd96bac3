import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArchiverConfig, archiveKey, type Workspace } from "../../../lambda/config";
import { describeError, InputError, ruleFor } from "../../../lambda/errors";
import { catLogs } from "../../../lambda/reader/cat";
import { getObjects, localPath } from "../../../lambda/reader/get";
import { type ArchiveLocation, listArchive } from "../../../lambda/reader/listing";
import { listWindows } from "../../../lambda/reader/ls";
import { verifyArchive } from "../../../lambda/reader/verify";
import { dueWindows, type TimeWindow, windowsInRange } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  BILLING,
  crc32Base64Of,
  expectedText,
  GROUP,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";
import { EMPTY_GZIP } from "../../support/atlas-simulator";

/** 02:20 UTC: the 6-hour lookback holds 5 due hourly windows, 21:00 on the 28th to 02:00 on the 29th. */
const NOW = Date.parse("2026-11-29T02:20:00Z");
const RANGE = { fromMs: Date.parse("2026-11-28T21:00:00Z"), toMs: Date.parse("2026-11-29T02:00:00Z") };

let fixture: ArchiveFixture;
let config: ArchiverConfig;
let s3: S3Client;
let location: ArchiveLocation;
let dir: string;

beforeAll(async () => {
  fixture = await startArchiveFixture();
  config = testConfig(fixture.sim.baseUrl);
  const summary = await fixture.run(config, NOW);
  expect(summary.totals.archived).toBe(10);
  s3 = fixture.s3server.client();
  location = { bucket: fixture.s3server.bucket, prefix: config.archive.prefix };
  dir = await mkdtemp(join(tmpdir(), "reader-test-"));
});
afterAll(async () => {
  await fixture?.close();
  await rm(dir, { recursive: true, force: true });
});

const keyOf = (ws: Workspace, w: TimeWindow) => archiveKey(config.archive.prefix, ws, w);
const windows = () => dueWindows(NOW, config.window);

/**
 * Replaces an object for the duration of `test`, then puts the original back. The replacement keeps
 * the original's stored CRC32 (as if its bytes were damaged in the store) unless `crc32` says
 * otherwise (`null`: none).
 */
async function withObject(
  key: string,
  body: Buffer | undefined,
  metadata: Record<string, string> | undefined,
  test: () => Promise<void>,
  crc32?: string | null,
): Promise<void> {
  const original = await fixture.s3server.getObject(key);
  const checksum =
    crc32 === null
      ? undefined
      : crc32 === undefined
        ? original.checksum
        : { algorithm: "crc32" as const, value: crc32 };
  if (body === undefined) await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: key }));
  else await fixture.s3server.putObject(key, body, metadata ?? original.metadata, undefined, checksum);
  try {
    await test();
  } finally {
    await fixture.s3server.putObject(key, original.body, original.metadata, undefined, original.checksum);
  }
}

/** A destination that keeps what it is given. */
function collector(): { out: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    out: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

describe("listArchive", () => {
  it("lists a tenant's windows in a range from the key layout; other keys come back unparsed", async () => {
    const notes = `${config.archive.prefix}group=${GROUP}/tenant=billing/notes.txt`;
    await fixture.s3server.putObject(notes, "x");
    const day29 = { fromMs: Date.parse("2026-11-29T00:00:00Z"), toMs: Date.parse("2026-11-30T00:00:00Z") };
    const { objects } = await listArchive(s3, location, {
      groupId: GROUP,
      tenantName: "billing",
      range: day29,
    });
    expect(objects.map((o) => o.key)).toEqual(
      windows()
        .slice(3)
        .map((w) => keyOf(BILLING, w)),
    );
    const whole = await listArchive(s3, location, {});
    expect(whole.objects).toHaveLength(10);
    expect(whole.unparsed.map((u) => u.key)).toEqual([notes]);
    await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: notes }));
    const group = await listArchive(s3, location, { groupId: GROUP, range: RANGE });
    expect(group.objects.map((o) => o.key)).toEqual([
      ...windows().map((w) => keyOf(BILLING, w)),
      ...windows().map((w) => keyOf(PROD, w)),
    ]);
  });
});

describe("listWindows (ls)", () => {
  it("lists every archived window with its size and no gap when the archive is complete", async () => {
    const report = await listWindows({ s3, location, groupId: GROUP, nowMs: NOW, window: config.window });
    expect(report.ok).toBe(true);
    expect(report.workspaces.map((w) => [w.workspace, w.windows.length, w.missing])).toEqual([
      [`${GROUP}/billing/payments`, 5, 0],
      [`${GROUP}/prod-workspace`, 5, 0],
    ]);
    const first = report.workspaces[1]?.windows[0];
    const stored = await fixture.s3server.getObject(keyOf(PROD, windows()[0] as TimeWindow));
    expect(first).toEqual({
      window: "2026-11-28T21:00:00Z/2026-11-28T22:00:00Z",
      key: keyOf(PROD, windows()[0] as TimeWindow),
      bytes: stored.contentLength,
    });
  });

  it("reports a deleted window as a gap, and windows outside the archive in an explicit range", async () => {
    const gone = windows()[2] as TimeWindow; // 23:00-00:00, the last window of the 28th
    await withObject(keyOf(PROD, gone), undefined, undefined, async () => {
      const report = await listWindows({
        s3,
        location,
        groupId: GROUP,
        tenantName: "prod-workspace",
        nowMs: NOW,
        window: config.window,
      });
      expect(report.ok).toBe(false);
      expect(report.workspaces).toHaveLength(1);
      expect(report.workspaces[0]?.gaps).toEqual([
        { from: "2026-11-28T23:00:00Z", to: "2026-11-29T00:00:00Z", windows: 1 },
      ]);
    });
    // The 28th from 18:00 and the 29th up to now: 18:00-21:00 were never archived, 02:00-03:00 is not due.
    const report = await listWindows({
      s3,
      location,
      groupId: GROUP,
      range: { fromMs: Date.parse("2026-11-28T18:00:00Z"), toMs: Date.parse("2026-11-29T03:00:00Z") },
      nowMs: NOW,
      window: config.window,
    });
    expect(report.workspaces.map((w) => w.gaps)).toEqual([
      [{ from: "2026-11-28T18:00:00Z", to: "2026-11-28T21:00:00Z", windows: 3 }],
      [{ from: "2026-11-28T18:00:00Z", to: "2026-11-28T21:00:00Z", windows: 3 }],
    ]);
    expect(report.totals.missing).toBe(6);
  });

  it("reports the gaps of the widest range quickly, without enumerating its windows", async () => {
    const started = performance.now();
    const report = await listWindows({
      s3,
      location,
      groupId: GROUP,
      range: { fromMs: 0, toMs: Date.UTC(10000, 0, 1) },
      nowMs: NOW,
      window: config.window,
    });
    const before = Date.parse("2026-11-28T21:00:00Z");
    // Before the archived windows, everything since 1970 is missing; after them nothing is due yet.
    const gap = { from: "1970-01-01T00:00:00Z", to: "2026-11-28T21:00:00Z", windows: before / 3_600_000 };
    expect(report.workspaces.map((w) => [w.windows.length, w.gaps])).toEqual([
      [5, [gap]],
      [5, [gap]],
    ]);
    expect(report.range).toEqual({ from: "1970-01-01T00:00:00Z", to: "+010000-01-01T00:00:00Z" });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("is not ok when it finds nothing and knows of no workspace (a mistyped group)", async () => {
    const report = await listWindows({
      s3,
      location,
      groupId: "0".repeat(24),
      nowMs: NOW,
      window: config.window,
    });
    expect(report).toMatchObject({ ok: false, workspaces: [], totals: { objects: 0, missing: 0 } });
  });

  it("reports a configured workspace that has no object at all", async () => {
    const extra: Workspace = { groupId: GROUP, tenantName: "new-workspace" };
    const report = await listWindows({
      s3,
      location,
      groupId: GROUP,
      nowMs: NOW,
      window: config.window,
      expected: [...config.workspaces, extra, { groupId: "0".repeat(24), tenantName: "elsewhere" }],
    });
    expect(report.workspaces.map((w) => [w.tenantName, w.missing])).toEqual([
      ["billing", 0],
      ["new-workspace", 5],
      ["prod-workspace", 0],
    ]);
  });
});

describe("catLogs (cat)", () => {
  it("prints every window's lines in time order, across the UTC day boundary", async () => {
    const { out, text } = collector();
    const result = await catLogs({
      s3,
      location,
      groupId: GROUP,
      tenantName: "prod-workspace",
      range: RANGE,
      out,
    });
    const expected = windows()
      .map((w) => expectedText(PROD, w))
      .join("");
    expect(expected.split("\n").length).toBeGreaterThan(5);
    expect(text()).toBe(expected);
    expect(result).toMatchObject({ objects: 5, closed: false });
  });

  it("prints only the windows overlapping the range, and the single processor's log by default", async () => {
    const { out, text } = collector();
    const range = { fromMs: Date.parse("2026-11-28T23:59:00Z"), toMs: Date.parse("2026-11-29T00:00:01Z") };
    await catLogs({ s3, location, groupId: GROUP, tenantName: "billing", range, out });
    expect(text()).toBe(
      windows()
        .slice(2, 4)
        .map((w) => expectedText(BILLING, w))
        .join(""),
    );
  });

  it("stops quietly when the destination closes, abandoning the download", async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    out.once("data", () => out.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })));
    const result = await catLogs({
      s3,
      location,
      groupId: GROUP,
      tenantName: "prod-workspace",
      range: RANGE,
      out,
    });
    expect(result.closed).toBe(true);
    expect(result.objects).toBeLessThan(5);
  });

  it("names the object that does not decompress", async () => {
    const key = keyOf(PROD, windows()[1] as TimeWindow);
    const body = Buffer.from("not gzip at all");
    await withObject(
      key,
      body,
      undefined,
      async () => {
        const { out } = collector();
        await expect(
          catLogs({ s3, location, groupId: GROUP, tenantName: "prod-workspace", range: RANGE, out }),
        ).rejects.toMatchObject({ code: "READER_GZIP_INVALID", message: expect.stringContaining(key) });
      },
      crc32Base64Of(body),
    );
  });

  it("names the object whose bytes do not match the checksum S3 stored with it", async () => {
    const key = keyOf(PROD, windows()[1] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    // Valid gzip of the same length, but another object's bytes: only the checksum can tell.
    const other = await fixture.s3server.getObject(keyOf(PROD, windows()[2] as TimeWindow));
    await withObject(key, other.body, undefined, async () => {
      expect(other.checksum).not.toEqual(original.checksum);
      const { out } = collector();
      await expect(
        catLogs({ s3, location, groupId: GROUP, tenantName: "prod-workspace", range: RANGE, out }),
      ).rejects.toMatchObject({ code: "S3_CHECKSUM_MISMATCH", message: expect.stringContaining(key) });
    });
  });

  it("asks for a stream processor (field sp) when a tenant has several and no whole-workspace log", async () => {
    const other = keyOf({ ...BILLING, spName: "refunds" }, windows()[0] as TimeWindow);
    await fixture.s3server.putObject(other, EMPTY_GZIP);
    try {
      const { out } = collector();
      const refused = await catLogs({
        s3,
        location,
        groupId: GROUP,
        tenantName: "billing",
        range: RANGE,
        out,
      }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InputError);
      expect((refused as InputError).context.field).toBe("sp");
      expect(describeError(refused as InputError, (f) => `--${f}`)).toContain(
        "(payments, refunds) and no whole-workspace log: pick one with --sp NAME",
      );
      const picked = collector();
      await catLogs({
        s3,
        location,
        groupId: GROUP,
        tenantName: "billing",
        spName: "refunds",
        range: RANGE,
        out: picked.out,
      });
      expect(picked.text()).toBe("");
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: other }));
    }
  });

  it("fails with a clear message for a bucket that does not exist", async () => {
    const { out } = collector();
    await expect(
      catLogs({
        s3,
        location: { ...location, bucket: "no-such-bucket" },
        groupId: GROUP,
        tenantName: "billing",
        range: RANGE,
        out,
      }),
    ).rejects.toMatchObject({
      code: "S3_NO_SUCH_BUCKET",
      message: expect.stringContaining("Check the bucket name"),
    });
  });
});

describe("getObjects (get)", () => {
  it("refuses an output directory it cannot create, before any request, as a setup problem", async () => {
    const { objects } = await listArchive(s3, location, { groupId: GROUP, range: RANGE });
    const before = fixture.s3server.operations.length;
    const error = await getObjects({ s3, location, objects, outDir: "/proc/x/audit" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "READER_OUTPUT_UNWRITABLE",
      message: expect.stringContaining("The output directory /proc/x/audit cannot be created (ENOENT"),
    });
    expect(ruleFor(error).exitStatus).toBe(2);
    expect(fixture.s3server.operations.length).toBe(before);
  });

  it("downloads the objects under the key layout, then resumes: skips intact files, re-fetches a damaged one", async () => {
    const out = join(dir, "get");
    const { objects } = await listArchive(s3, location, {
      groupId: GROUP,
      tenantName: "prod-workspace",
      range: RANGE,
    });
    const progress: number[] = [];
    const first = await getObjects({
      s3,
      location,
      objects,
      outDir: out,
      onProgress: (p) => progress.push(p.files),
    });
    expect(first).toMatchObject({ ok: true, skipped: [] });
    expect(first.downloaded).toHaveLength(5);
    expect(progress.at(-1)).toBe(5);
    const path = localPath(out, location.prefix, keyOf(PROD, windows()[3] as TimeWindow));
    expect(path).toBe(
      join(
        out,
        `group=${GROUP}`,
        "tenant=prod-workspace",
        "date=2026-11-29",
        path.split("/").at(-1) as string,
      ),
    );
    const stored = await fixture.s3server.getObject(keyOf(PROD, windows()[3] as TimeWindow));
    expect(await readFile(path)).toEqual(stored.body);

    fixture.s3server.clearOperations();
    const second = await getObjects({ s3, location, objects, outDir: out });
    expect(second.downloaded).toEqual([]);
    expect(second.skipped).toHaveLength(5);
    expect(fixture.s3server.operationsOf("GetObject")).toEqual([]);

    // Same size, different bytes: only the checksum tells.
    const damaged = Buffer.from(stored.body);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await writeFile(path, damaged);
    const third = await getObjects({ s3, location, objects, outDir: out });
    expect(third.downloaded).toEqual([path]);
    expect(await readFile(path)).toEqual(stored.body);
  });

  it("removes the temporary files of a killed get, and only those", async () => {
    const out = join(dir, "get-stale");
    const key = keyOf(PROD, windows()[0] as TimeWindow);
    const path = localPath(out, location.prefix, key);
    await mkdir(dirname(path), { recursive: true });
    // A process that has exited, one that is running (this test's parent), and a file of the user's.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    const names = [
      `${basename(path)}.partial-${gone}`,
      `${basename(path)}.partial-${process.ppid}`,
      "notes.txt",
    ];
    for (const name of names) await writeFile(join(dirname(path), name), "x");
    const { objects } = await listArchive(s3, location, {
      groupId: GROUP,
      tenantName: "prod-workspace",
      range: RANGE,
    });
    const report = await getObjects({ s3, location, objects: objects.slice(0, 1), outDir: out });
    expect(report.ok).toBe(true);
    expect((await readdir(dirname(path))).sort()).toEqual([basename(path), names[1], names[2]].sort());
  });

  it("leaves nothing at the path of an object that does not match its stored checksum", async () => {
    const out = join(dir, "get-bad");
    const key = keyOf(BILLING, windows()[0] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    const damaged = Buffer.from(original.body);
    damaged[damaged.length - 5] = (damaged[damaged.length - 5] ?? 0) ^ 0x01;
    await withObject(key, damaged, undefined, async () => {
      const { objects } = await listArchive(s3, location, {
        groupId: GROUP,
        tenantName: "billing",
        range: RANGE,
      });
      const report = await getObjects({ s3, location, objects, outDir: out });
      expect(report.ok).toBe(false);
      expect(report.failed).toEqual([
        { key, reason: expect.stringContaining("differs from the object's stored CRC32") },
      ]);
      await expect(stat(localPath(out, location.prefix, key))).rejects.toThrow("ENOENT");
      expect(report.downloaded).toHaveLength(4);
    });
  });
});

describe("verifyArchive (verify)", () => {
  it("passes an intact archive", async () => {
    const report = await verifyArchive({ s3, location, groupId: GROUP });
    expect(report).toMatchObject({ ok: true, checked: 10, bad: [] });
  });

  it("reports every bad object: corrupt gzip, checksum and window mismatches, and an unparsable key", async () => {
    const [w0, w1, w2, w3] = windows() as [TimeWindow, TimeWindow, TimeWindow, TimeWindow];
    const corrupt = keyOf(PROD, w0);
    const wrongSha = keyOf(PROD, w1);
    const wrongWindow = keyOf(BILLING, w2);
    const noChecksum = keyOf(BILLING, w3);
    const stray = `${config.archive.prefix}group=${GROUP}/tenant=prod-workspace/date=2026-11-28/copy.gz`;
    const [a, b, c, d] = await Promise.all(
      [corrupt, wrongSha, wrongWindow, noChecksum].map((k) => fixture.s3server.getObject(k)),
    );
    if (!a || !b || !c || !d) throw new Error("fixture objects missing");
    const truncated = a.body.subarray(0, a.body.length - 4);
    await fixture.s3server.putObject(stray, a.body);
    try {
      const check = async () => {
        const seen: number[] = [];
        const report = await verifyArchive({ s3, location, onObject: (done) => seen.push(done) });
        expect(report.ok).toBe(false);
        expect(report.checked).toBe(10);
        expect(seen).toHaveLength(10);
        expect(report.bad.map((bad) => [bad.key, bad.problem])).toEqual([
          [wrongWindow, "METADATA_MISMATCH"],
          [noChecksum, "CHECKSUM_MISSING"],
          [stray, "KEY_UNPARSABLE"],
          [corrupt, "GZIP_INVALID"],
          [wrongSha, "CHECKSUM_MISMATCH"],
        ]);
        expect(report.bad[0]?.reason).toBe(
          'window-start is "2026-11-28T22:00:00Z", the key says 2026-11-28T23:00:00Z',
        );
      };
      // A truncated gzip whose stored checksum agrees, so only the gzip check can tell; valid gzip
      // whose stored CRC32 is another object's; intact bytes whose metadata names another window
      // than the key; and an intact object S3 has no checksum for (not written by the archiver).
      await withObject(
        corrupt,
        truncated,
        undefined,
        () =>
          withObject(
            wrongSha,
            b.body,
            undefined,
            () =>
              withObject(wrongWindow, c.body, { ...c.metadata, "window-start": "2026-11-28T22:00:00Z" }, () =>
                withObject(noChecksum, d.body, undefined, check, null),
              ),
            c.checksum?.value,
          ),
        crc32Base64Of(truncated),
      );
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: stray }));
    }
    expect((await verifyArchive({ s3, location })).ok).toBe(true);
  });

  it("limits itself to a range", async () => {
    const day = { fromMs: Date.parse("2026-11-29T00:00:00Z"), toMs: Date.parse("2026-11-30T00:00:00Z") };
    expect((await verifyArchive({ s3, location, groupId: GROUP, range: day })).checked).toBe(4);
    expect(windowsInRange(day.fromMs, day.toMs, 60)).toHaveLength(24);
  });

  it("reports denied access as a setup problem, not as bad objects", async () => {
    fixture.s3server.inject({ op: "ListObjectsV2", status: 403, code: "AccessDenied" });
    await expect(verifyArchive({ s3, location, groupId: GROUP })).rejects.toMatchObject({
      code: "S3_ACCESS_DENIED",
      message: expect.stringContaining("s3:ListBucket on the bucket and s3:GetObject"),
    });
  });
});
