// Types of the two undici files that lambda/atlas/undici-agent.ts imports directly (undici
// publishes types for its entry point only).

declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";

  const UndiciAgent: typeof Agent;
  export = UndiciAgent;
}

declare module "undici/lib/api/index.js" {
  import type { Dispatcher } from "undici";

  const api: Pick<Dispatcher, "request" | "stream" | "pipeline" | "connect" | "upgrade">;
  export = api;
}
