/**
 * A loopback reverse proxy that serves another server under a path prefix, as an API gateway or a
 * corporate proxy in front of Atlas would: `GET {baseUrl}/api/...` reaches `{target}/api/...`. Anything
 * outside the prefix gets a 404, so a client that drops the base URL's path fails visibly.
 *
 * Bodies stream both ways and every end-to-end header is kept (Authorization, WWW-Authenticate,
 * Retry-After, Transfer-Encoding codings...); only hop-by-hop headers are dropped and `Host` names the
 * target. An upstream failure (reset, connection error) is passed on as a dropped connection, not a
 * 502, so faults of the target look the same through the proxy.
 *
 * Note: HTTP Digest signs a `uri`, which the target checks against the path it receives (prefix
 * stripped): a client that signs the path the target sees gets through; one that signs the path it
 * requested (prefix included) is refused, as through any path-rewriting proxy. Bearer and Basic
 * credentials pass unchanged.
 *
 * @example
 * ```ts
 * const atlas = await startAtlasSimulator();
 * const proxy = await startPathPrefixProxy({ target: atlas.baseUrl, prefix: "/atlas-proxy" });
 * // ... point the client at proxy.baseUrl (http://127.0.0.1:PORT/atlas-proxy) ...
 * await proxy.close();
 * await atlas.close();
 * ```
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Options of {@link startPathPrefixProxy}. */
export interface PathPrefixProxyOptions {
  /** The origin to forward to, e.g. the simulator's `baseUrl` (`http:` only; a path is prepended). */
  readonly target: string;
  /** The path prefix the proxy serves the target under: starts with `/`, no trailing `/`, e.g. `/atlas-proxy`. */
  readonly prefix: string;
}

/** A request the proxy received (forwarded or not), in arrival order. */
export interface PathPrefixProxyRequest {
  readonly method: string;
  /** The path as received, with its query (prefix included). */
  readonly path: string;
}

/** A running proxy; see {@link startPathPrefixProxy}. */
export interface PathPrefixProxy {
  /** Origin plus prefix, e.g. `http://127.0.0.1:PORT/atlas-proxy`, without a trailing slash. */
  readonly baseUrl: string;
  /** Every request received, forwarded or answered 404. */
  readonly requests: PathPrefixProxyRequest[];
  /** Stops listening and destroys every open connection, upstream ones too. */
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "upgrade",
  "te",
  "trailer",
]);

/**
 * Headers to pass on: hop-by-hop ones dropped. `Transfer-Encoding` is kept: Node frames a body
 * chunked when its value ends in `chunked`, so a declared coding (`gzip, chunked`) reaches the client.
 */
function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = String(headers.connection ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !listed.includes(name)) out[name] = value;
  }
  return out;
}

function validate(options: PathPrefixProxyOptions): URL {
  const { prefix } = options;
  if (typeof prefix !== "string" || !/^\/[^?#\s]*[^/?#\s]$/.test(prefix)) {
    throw new RangeError(
      `PathPrefixProxyOptions.prefix ${JSON.stringify(prefix)} must start with "/", have no trailing "/", query or spaces`,
    );
  }
  let target: URL;
  try {
    target = new URL(options.target);
  } catch {
    throw new RangeError(`PathPrefixProxyOptions.target ${JSON.stringify(options.target)} is not a URL`);
  }
  if (target.protocol !== "http:" || target.search !== "" || target.hash !== "") {
    throw new RangeError(
      `PathPrefixProxyOptions.target ${options.target} must be an http: URL without query or fragment`,
    );
  }
  return target;
}

/**
 * Starts the proxy on 127.0.0.1 (any free port). A request whose path starts with `prefix + "/"` is
 * forwarded to `target` with the prefix stripped (`/atlas-proxy/api/x?y` -> `/api/x?y`); any other
 * path (the prefix alone included) gets `404` with a plain-text body naming the path.
 *
 * @example
 * ```ts
 * const proxy = await startPathPrefixProxy({ target: "http://127.0.0.1:8080", prefix: "/atlas-proxy" });
 * ```
 */
export async function startPathPrefixProxy(options: PathPrefixProxyOptions): Promise<PathPrefixProxy> {
  const target = validate(options);
  const prefix = options.prefix;
  const targetPath = target.pathname.replace(/\/+$/, "");
  const agent = new http.Agent({ keepAlive: true });
  const requests: PathPrefixProxyRequest[] = [];
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    const method = req.method ?? "GET";
    requests.push({ method, path: url });
    if (!url.startsWith(`${prefix}/`)) {
      const body = Buffer.from(
        `404 Not Found: ${url} is not under ${prefix}/ (this proxy serves ${target.origin}${targetPath} at ${prefix}/)\n`,
      );
      req.resume();
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "content-length": body.length });
      res.end(body);
      return;
    }
    const headers = endToEnd(req.headers);
    headers.host = target.host;
    const upstream = http.request({
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: target.port === "" ? 80 : Number(target.port),
      agent,
      method,
      path: `${targetPath}${url.slice(prefix.length)}`,
      headers,
    });
    const drop = (): void => {
      upstream.destroy();
      res.socket?.destroy();
    };
    upstream.once("response", (response) => {
      res.writeHead(response.statusCode ?? 502, response.statusMessage, endToEnd(response.headers));
      response.pipe(res);
      response.once("error", drop);
      response.once("aborted", drop);
      // A body cut short upstream must be cut short here too, not end cleanly.
      response.once("close", () => {
        if (!response.complete) drop();
      });
    });
    upstream.once("error", drop);
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.once("error", drop);
    req.pipe(upstream);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://127.0.0.1:${port}${prefix}`,
    requests,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
      return closing;
    },
  };
}
