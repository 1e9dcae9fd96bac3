import { describe, expect, it } from "vitest";
import {
  archiveKey,
  digestKey,
  digestsPrefix,
  parseArchiveKey,
  parseDigestKey,
  receiptKey,
  receiptsPrefix,
  tenantPrefix,
  type Workspace,
} from "../../../lambda/config";

const PREFIX = "atlas/stream-audit/";
const GROUP = "32b6e34b3d91647abb20e7b8";
const WINDOW = { startMs: Date.parse("2026-11-28T23:00:00Z"), endMs: Date.parse("2026-11-29T00:00:00Z") };

describe("parseArchiveKey", () => {
  it.each<[string, Workspace]>([
    ["a whole workspace", { groupId: GROUP, tenantName: "prod-workspace" }],
    ["a stream processor", { groupId: GROUP, tenantName: "billing", spName: "payments" }],
    ["a tenant name with underscores", { groupId: GROUP, tenantName: "eu_prod_1" }],
    ["underscores in tenant and processor", { groupId: GROUP, tenantName: "eu_prod", spName: "sp_2_x" }],
  ])("reads back what archiveKey writes for %s", (_name, workspace) => {
    for (const prefix of [PREFIX, ""]) {
      const key = archiveKey(prefix, workspace, WINDOW);
      expect(parseArchiveKey(prefix, key)).toEqual({
        ok: true,
        workspace,
        window: WINDOW,
        date: "2026-11-28",
      });
    }
  });

  it.each([
    ["atlas/stream-audit/.incoming/run-1/group=x/file", "does not follow"],
    ["other/file.gz", "not under the archive prefix"],
    [`atlas/stream-audit/group=${GROUP}/tenant=t/notes.txt`, "does not follow"],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_20261128T230000Z_20261129T000000Z.log`,
      "does not end with _audit.log.gz",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_2026-11-28_20261129T000000Z_audit.log.gz`,
      "YYYYMMDDTHHmmssZ",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/u_20261128T230000Z_20261129T000000Z_audit.log.gz`,
      'start with the tenant name "t"',
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-29/t_20261128T230000Z_20261129T000000Z_audit.log.gz`,
      "not the UTC date of the window start",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_20261128T230000Z_20261128T220000Z_audit.log.gz`,
      "not after its start",
    ],
  ])("refuses %s", (key, reason) => {
    const parsed = parseArchiveKey(PREFIX, key);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });
});

describe("the integrity records' keys", () => {
  const prefix = "atlas/stream-audit/";
  const tenant = { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" };
  const processor = { ...tenant, spName: "orders" };
  const window = { startMs: Date.parse("2026-11-28T13:00:00Z"), endMs: Date.parse("2026-11-28T14:00:00Z") };

  it("mirrors a log's key under _receipts/, and a day's receipts share its folder", () => {
    const receipt = receiptKey(prefix, processor, window);
    expect(receipt).toBe(
      "atlas/stream-audit/_receipts/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-28/" +
        "prod-workspace_orders_20261128T130000Z_20261128T140000Z_audit.log.gz.json",
    );
    expect(receipt.startsWith(receiptsPrefix(prefix, processor, "2026-11-28"))).toBe(true);
    // Never under the archive's partitions, which the readers and Athena read.
    expect(receipt.startsWith(tenantPrefix(prefix, tenant))).toBe(false);
  });

  it("keeps each workspace's digests in a folder of its own, one per day in date order, and reads a key back", () => {
    const a = digestKey(prefix, tenant, "2026-11-28");
    const b = digestKey(prefix, processor, "2026-11-29");
    expect(a).toBe(
      "atlas/stream-audit/_digests/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/" +
        "workspace=prod-workspace/2026-11-28_digest.json",
    );
    expect(b.startsWith(digestsPrefix(prefix, processor))).toBe(true);
    expect(a.startsWith(digestsPrefix(prefix, processor))).toBe(false);
    expect(b.startsWith(digestsPrefix(prefix, tenant))).toBe(false);
    expect(digestKey(prefix, tenant, "2026-11-29") > a).toBe(true);
    expect(parseDigestKey(prefix, processor, b)).toBe("2026-11-29");
    expect(parseDigestKey(prefix, tenant, b)).toBeUndefined();
    expect(parseDigestKey(prefix, tenant, `${a}.bak`)).toBeUndefined();
  });
});
