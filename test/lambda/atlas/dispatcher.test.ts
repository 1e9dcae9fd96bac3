import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Agent as UndiciAgent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAtlasDispatcher } from "../../../lambda/atlas/dispatcher";

const ROOT = join(import.meta.dirname, "..", "..", "..");

describe("createAtlasDispatcher", () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ method: request.method, path: request.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is an undici Agent that answers request() with a readable body", async () => {
    const dispatcher = createAtlasDispatcher();
    try {
      expect(dispatcher).toBeInstanceOf(UndiciAgent);
      const response = await dispatcher.request({ origin, path: "/api/atlas/v2", method: "GET" });
      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toEqual({ method: "GET", path: "/api/atlas/v2" });
    } finally {
      await dispatcher.close();
    }
  });

  it("answers request() in a process that never loads undici's entry point", async () => {
    // undici's entry point is what adds request() to every dispatcher; this test process has it
    // loaded, so only a fresh process shows that the Agent works without it.
    const script = `
      import { createRequire } from "node:module";
      import { createAtlasDispatcher } from "./lambda/atlas/dispatcher.ts";
      const dispatcher = createAtlasDispatcher();
      const response = await dispatcher.request({ origin: process.argv[1], path: "/fresh", method: "GET" });
      const body = await response.body.json();
      await dispatcher.close();
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes("undici"));
      console.log(JSON.stringify({ body, entryPointLoaded: loaded.some((f) => /undici[\\\\/]index\\.js$/.test(f)),
        agentLoaded: loaded.some((f) => /dispatcher[\\\\/]agent\\.js$/.test(f)) }));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, origin], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      body: { method: "GET", path: "/fresh" },
      entryPointLoaded: false,
      agentLoaded: true,
    });
  });
});
