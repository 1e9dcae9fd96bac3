import { describe, expect, it } from "vitest";
import { workspaceLabel } from "../../../lambda/config";
import { GROUP } from "./support";

describe("workspaceLabel", () => {
  it("joins groupId and tenantName", () => {
    expect(workspaceLabel({ groupId: GROUP, tenantName: "prod-workspace" })).toBe(`${GROUP}/prod-workspace`);
  });

  it("adds spName when the workspace is narrowed to one processor", () => {
    expect(workspaceLabel({ groupId: GROUP, tenantName: "billing", spName: "payments" })).toBe(
      `${GROUP}/billing/payments`,
    );
  });
});
