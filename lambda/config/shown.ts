/**
 * How the parameter file's values appear in messages: clipped, printable (no control character
 * reaches the terminal), and with any credentials hidden.
 */

/** How many array entries or object keys of an offending value a problem keeps. */
const MAX_PROBLEM_ENTRIES = 20;

/** The longest string kept in a problem's `value`; a longer one is cut (with "..."). */
const MAX_PROBLEM_STRING = 1000;

const MAX_VALUE_LENGTH = 80;

/**
 * `text` with every control character (C0, DEL, C1) replaced by "?", one for one: no escape
 * sequence from the file reaches the terminal, and columns stay where they were.
 */
export function printable(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) ? "?" : text.charAt(i);
  }
  return out;
}

/** `text` cut to `max` characters, "..." included, without splitting a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 3;
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}...`;
}

/** Whether the UTF-16 code unit `c` ends a URL-ish token: whitespace (as `\s`) or a quote. */
function endsToken(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c === 0x22 || c === 0x27 || c === 0x60) return true;
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Hides the credentials of every URL in `text`: after each "://", everything up to the last "@"
 * of that URL-ish token (whitespace or a quote ends it; a backslash escapes the next character, as
 * in JSON text) becomes `***`, whatever the password holds. One pass over the text, no regular
 * expression: linear, whatever the text.
 *
 * @example
 * ```ts
 * redact("see https://svc:p@ss@cloud.mongodb.com/x"); // "see https://***@cloud.mongodb.com/x"
 * ```
 */
export function redact(text: string): string {
  let scheme = text.indexOf("://");
  if (scheme === -1) return text;
  let out = "";
  let copied = 0;
  while (scheme !== -1) {
    const start = scheme + 3;
    let end = start;
    let lastAt = -1;
    while (end < text.length) {
      const c = text.charCodeAt(end);
      if (c === 0x5c) end += 2;
      else if (endsToken(c)) break;
      else {
        if (c === 0x40) lastAt = end;
        end++;
      }
    }
    if (lastAt !== -1) {
      out += `${text.slice(copied, start)}***`;
      copied = lastAt;
    }
    scheme = end < text.length ? text.indexOf("://", end) : -1;
  }
  return out + text.slice(copied);
}

/**
 * The base URL with everything between its "://" (or its start) and its last "@" hidden: a value
 * that is refused because it has credentials never shows them, even with spaces or quotes in them.
 */
function hideBaseUrlCredentials(value: string): string {
  const scheme = value.indexOf("://");
  const start = scheme === -1 ? 0 : scheme + 3;
  const at = value.lastIndexOf("@");
  return at < start ? redact(value) : `${value.slice(0, start)}***${redact(value.slice(at))}`;
}

/** A JSON syntax error's line, with the credentials of any URL in it masked character for character. */
export function maskLine(line: string): string {
  const scheme = line.indexOf("://");
  const at = line.lastIndexOf("@");
  if (scheme === -1 || at < scheme + 3) return line;
  return `${line.slice(0, scheme + 3)}${"*".repeat(at - scheme - 3)}${line.slice(at)}`;
}

/**
 * The offending value as a problem keeps it: credentials hidden, strings cut to
 * {@link MAX_PROBLEM_STRING} characters, arrays and objects to their first
 * {@link MAX_PROBLEM_ENTRIES} entries (recursion is bounded by {@link MAX_NESTING}).
 */
export function safeValue(value: unknown, isBaseUrl = false): unknown {
  if (typeof value === "string") {
    return clip(isBaseUrl ? hideBaseUrlCredentials(value) : redact(value), MAX_PROBLEM_STRING);
  }
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const entries = value.slice(0, MAX_PROBLEM_ENTRIES).map((v) => safeValue(v));
    if (value.length > MAX_PROBLEM_ENTRIES) entries.push(`... ${value.length - MAX_PROBLEM_ENTRIES} more`);
    return entries;
  }
  const copy: Record<string, unknown> = {};
  let kept = 0;
  let more = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (kept === MAX_PROBLEM_ENTRIES) more++;
    else {
      kept++;
      // Defined, not assigned: a key "__proto__" stays a key.
      Object.defineProperty(copy, clip(redact(key), MAX_PROBLEM_STRING), {
        value: safeValue((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  if (more > 0) copy["..."] = `${more} more`;
  return copy;
}

/** A safe value (see {@link safeValue}) as the line shows it: JSON, at most 80 characters. */
export function showValue(value: unknown): string {
  return clip(JSON.stringify(value) ?? String(value), MAX_VALUE_LENGTH);
}
