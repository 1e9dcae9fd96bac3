import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("npm run demo", () => {
  it("archives a few workspaces into the local S3 server and lists the keys", async () => {
    const result = await new Promise<{ status: number; output: string }>((resolve, reject) => {
      const child = spawn("npm", ["run", "--silent", "demo"], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("error", reject).on("exit", (code) => resolve({ status: code ?? -1, output }));
    });
    expect(result.output).toMatch(/Objects in s3:\/\/demo-audit-archive\/ \(\d+\):/);
    const keys = result.output.match(
      /atlas\/stream-audit\/group=[0-9a-f]{24}\/tenant=[\w-]+\/date=\d{4}-\d{2}-\d{2}\/\S+_audit\.log\.gz/g,
    );
    // Three workspaces, four or five due hourly windows each in a six-hour lookback with 15 minutes of lag.
    expect(new Set(keys).size).toBeGreaterThanOrEqual(12);
    expect(result.output).toContain("billing_payments_");
    expect(result.output).toContain("OK");
    expect(result.status).toBe(0);
  }, 60_000);
});
