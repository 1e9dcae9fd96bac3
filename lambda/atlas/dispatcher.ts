/**
 * The HTTP connection pool for Atlas calls.
 */
import type { Agent as UndiciAgent } from "undici";
import { Agent } from "./undici-agent";

/** Options of {@link createAtlasDispatcher}. */
export interface AtlasDispatcherOptions {
  /** Longest time to establish a TCP + TLS connection. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** Parallel connections per origin. @default 16 */
  readonly connections?: number;
}

/**
 * An undici `Agent` for Atlas: bounded connect time and keep-alive reuse, so warm Lambda
 * invocations and many windows share TLS sessions.
 *
 * @example const client = new AtlasClient({ ..., dispatcher: createAtlasDispatcher() });
 */
export function createAtlasDispatcher(options: AtlasDispatcherOptions = {}): UndiciAgent {
  return new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    connections: options.connections ?? 16,
    keepAliveTimeout: 10_000,
  });
}
