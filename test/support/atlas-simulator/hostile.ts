/**
 * Bodies of the hostile faults: credentials echoed back (`echo-credentials`), a giant token
 * response (`huge-token-response`) and a transfer-coded body (`transfer-coding`).
 */
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createBrotliCompress, createDeflate, createGzip } from "node:zlib";
import { parseAuthParams } from "./digest";

/** What `echo-credentials` sends back: the text for the error body and the `x-echo` header value. */
export interface Echo {
  readonly text: string;
  readonly header: string;
}

/**
 * The credentials of a request, verbatim: the whole `Authorization` value, the credential after the
 * scheme, for Basic the decoded `clientId:clientSecret` and the secret, for Digest its `response`,
 * and the form body when there is one.
 */
export function echoCredentials(authorization: string | undefined, form?: string): Echo {
  const value = authorization ?? "";
  const parts = [`Authorization: ${value}`];
  const scheme = /^\s*(\S+)\s*/.exec(value);
  const credential = scheme ? value.slice(scheme[0].length).trim() : "";
  if (credential !== "") parts.push(`credentials: ${credential}`);
  const kind = scheme?.[1]?.toLowerCase();
  if (kind === "basic") {
    const decoded = Buffer.from(credential, "base64").toString("utf8");
    parts.push(`decoded: ${decoded}`);
    const colon = decoded.indexOf(":");
    if (colon !== -1) parts.push(`client secret: ${decoded.slice(colon + 1)}`);
  } else if (kind === "digest") {
    const response =
      parseAuthParams(credential)?.get("response") ?? /response="?([^",\s]*)/i.exec(credential)?.[1];
    if (response !== undefined) parts.push(`digest response: ${response}`);
  }
  if (form !== undefined) parts.push(`form: ${form}`);
  return {
    text: `Rejected; the Atlas simulator echoes the credentials it received. ${parts.join("; ")}`,
    header: value,
  };
}

const HUGE_HEAD = Buffer.from('{"access_token":"');
const HUGE_TAIL = Buffer.from('","token_type":"Bearer","expires_in":3600}');
const FILL = Buffer.alloc(64 * 1024, "A");

/** The fixed bytes of a {@link hugeTokenBody}: shorter requests get this many. */
export const HUGE_TOKEN_MIN_BYTES = HUGE_HEAD.length + HUGE_TAIL.length;

/** A token response JSON of `max(bytes, HUGE_TOKEN_MIN_BYTES)` bytes, generated 64 KiB at a time as it is read. */
export function hugeTokenBody(bytes: number): Readable {
  let fill = Math.max(0, bytes - HUGE_TOKEN_MIN_BYTES);
  function* pieces(): Generator<Buffer> {
    yield HUGE_HEAD;
    while (fill > 0) {
      const n = Math.min(fill, FILL.length);
      fill -= n;
      yield FILL.subarray(0, n);
    }
    yield HUGE_TAIL;
  }
  return Readable.from(pieces(), { objectMode: false });
}

/** The stream that applies a transfer coding, or undefined for one the simulator sends unchanged. */
function encoder(coding: string): Transform | undefined {
  switch (coding.toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return createGzip();
    case "deflate":
      return createDeflate();
    case "br":
      return createBrotliCompress();
    default:
      return undefined;
  }
}

/** A byte stream encoded with a transfer coding (unchanged for codings the simulator does not apply). */
export async function* transferEncode(source: AsyncIterable<Buffer>, coding: string): AsyncGenerator<Buffer> {
  const encode = encoder(coding);
  if (encode === undefined) {
    yield* source;
    return;
  }
  const feeding = pipeline(Readable.from(source), encode).catch((error: unknown) => {
    encode.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  try {
    for await (const chunk of encode as AsyncIterable<Buffer>) yield chunk;
  } finally {
    encode.destroy();
    await feeding;
  }
}
