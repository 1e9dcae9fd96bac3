/**
 * undici's `Agent`, without the rest of undici. The package's entry point also loads fetch,
 * WebSocket, EventSource, the mock agents and the caches: a quarter of a megabyte of the handler's
 * bundle that the handler never uses. undici 7 has no `exports` map, so its files may be imported
 * directly. Two tests fail if an upgrade moves them: `test/lambda/bundled-functions.test.ts` runs
 * the worker's bundle, and `test/lambda/atlas/dispatcher.test.ts` a process that never loads
 * undici's entry point.
 */
import api from "undici/lib/api/index.js";
import UndiciAgent from "undici/lib/dispatcher/agent.js";

/**
 * undici's `Agent` with `request`, `stream`, `pipeline`, `connect` and `upgrade`. undici's entry
 * point adds these to `Dispatcher.prototype` when it loads (`Object.assign(Dispatcher.prototype,
 * api)`); the Agent's own file does not, so this subclass takes them from the same module.
 */
export class Agent extends UndiciAgent {}
Object.assign(Agent.prototype, api);
