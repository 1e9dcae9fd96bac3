/**
 * The Atlas base URL split into what undici needs: the origin it connects to, and the path prefix
 * every request path starts with (empty unless Atlas is reached behind a proxy under a path).
 */

/** `atlas.baseUrl` as a connection origin and a path prefix. */
export interface AtlasEndpoint {
  /** e.g. `https://cloud.mongodb.com`: scheme, host and port only. */
  readonly origin: string;
  /** `""`, or a prefix such as `/atlas-proxy` (leading slash, no trailing slash). */
  readonly basePath: string;
}

/**
 * Splits a validated base URL. undici's `origin` must not carry a path: one there is dropped or
 * refused, so a base URL behind a path-prefix proxy must have its path put in front of every
 * request path instead.
 *
 * @example
 * ```ts
 * atlasEndpoint("https://proxy.example.com/atlas/"); // { origin: "https://proxy.example.com", basePath: "/atlas" }
 * ```
 */
export function atlasEndpoint(baseUrl: string): AtlasEndpoint {
  const url = new URL(baseUrl);
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, "") };
}
