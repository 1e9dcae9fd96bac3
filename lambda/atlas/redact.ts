/**
 * Keeps credentials out of what a server says. A hostile or broken server (or a proxy) may echo
 * what the client sent into an error body or a header; that text ends up in messages, the run
 * summary and logs. Every credential the client sends is registered here, and every piece of
 * server text passes through {@link SecretRedactor.redact} before it is used.
 */

/** What replaces a credential in server text. */
const REDACTED = "[redacted]";

/** Shorter values are not treated as secrets: they would match ordinary text. */
const MIN_SECRET_LENGTH = 6;

/**
 * Values minted per request (bearer tokens, Digest responses) are kept for this many requests;
 * fixed credentials are kept for good. Old one-time values can no longer be echoed by a server
 * that is answering a later request.
 */
const MAX_EPHEMERAL = 64;

/**
 * The credentials a client has sent, and the redaction of server text.
 *
 * @example
 * ```ts
 * const redactor = new SecretRedactor();
 * redactor.addCredential("mdb_sa_sk_secret");
 * redactor.redact('{"detail":"bad secret mdb_sa_sk_secret"}'); // '{"detail":"bad secret [redacted]"}'
 * ```
 */
export class SecretRedactor {
  private readonly fixed = new Set<string>();
  private readonly ephemeral = new Set<string>();
  private sorted: string[] | undefined;

  /** Registers a long-lived secret (a client secret, a private key). */
  addCredential(value: string | undefined): void {
    for (const form of forms(value)) this.fixed.add(form);
    this.sorted = undefined;
  }

  /**
   * Registers an `Authorization` header value as sent: the whole value, its credentials after the
   * scheme, the decoded `id:secret` of a Basic value, and a Digest header's `response`. `lasting`
   * keeps it for good (a Basic value); otherwise it is one of the latest per-request values.
   */
  addAuthorization(header: string | undefined, lasting = false): void {
    if (!header) return;
    const values = [header];
    const space = header.indexOf(" ");
    const scheme = space === -1 ? "" : header.slice(0, space).toLowerCase();
    const credentials = space === -1 ? header : header.slice(space + 1).trim();
    values.push(credentials);
    if (scheme === "basic") values.push(Buffer.from(credentials, "base64").toString("utf8"));
    if (scheme === "digest") {
      const response = /(?:^|[\s,])response="?([0-9a-fA-F]+)"?/.exec(credentials)?.[1];
      if (response) values.push(response);
    }
    for (const value of values) {
      for (const form of forms(value)) {
        if (lasting) {
          this.fixed.add(form);
          continue;
        }
        if (this.fixed.has(form)) continue;
        this.ephemeral.delete(form);
        this.ephemeral.add(form);
      }
    }
    while (this.ephemeral.size > MAX_EPHEMERAL) {
      const oldest = this.ephemeral.values().next().value as string;
      this.ephemeral.delete(oldest);
    }
    this.sorted = undefined;
  }

  /** `text` with every registered secret replaced by {@link REDACTED}. */
  redact(text: string): string;
  redact(text: string | undefined): string | undefined;
  redact(text: string | undefined): string | undefined {
    if (!text) return text;
    // Longest first, so that a value is not half-replaced through a shorter one it contains.
    this.sorted ??= [...this.fixed, ...this.ephemeral].sort((a, b) => b.length - a.length);
    let out = text;
    for (const secret of this.sorted) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }
}

/** The forms in which a value may come back: as is, URL-encoded, and JSON-escaped. */
function forms(value: string | undefined): string[] {
  if (value === undefined || value.length < MIN_SECRET_LENGTH) return [];
  return [...new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])];
}
