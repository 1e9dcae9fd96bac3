/**
 * Where a `JSON.parse` error is. Node 20's V8 names the position for some errors only ("Unexpected
 * token 'x', ... is not valid JSON" has none), so the text is scanned for the first offending
 * character: an iterative scanner, so that a file nested 100,000 levels deep is located in
 * milliseconds. Written here because the obvious library for it (jsonc-parser 3.3.1, which
 * reports error offsets) recurses once per level and overflows the stack on such a file
 * (measured: "Maximum call stack size exceeded" at 100,000 levels).
 */

/** Where a JSON syntax error is: 0-based offset, 1-based line and column. */
export interface JsonErrorLocation {
  readonly position: number;
  readonly line: number;
  readonly column: number;
}

/**
 * Locates a `JSON.parse` error in `text` from its message: Node 22 says "(line L column C)", Node 20
 * "at position N"; some messages ("Unexpected token 'x', ... is not valid JSON") give neither, and
 * then the text is scanned for the first offending character.
 */
export function locateJsonError(message: string, text: string): JsonErrorLocation {
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
  const offset = /at position (\d+)/.exec(message);
  let position: number;
  if (offset?.[1]) position = Number(offset[1]);
  else if (/Unexpected end of JSON input/.test(message)) position = text.trimEnd().length;
  else position = jsonSyntaxErrorOffset(text) ?? text.length;
  position = Math.min(position, text.length);
  if (lineColumn?.[1] && lineColumn[2]) {
    return { position, line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  }
  const before = text.slice(0, position);
  return { position, line: before.split("\n").length, column: position - (before.lastIndexOf("\n") + 1) + 1 };
}

/** Thrown inside {@link jsonSyntaxErrorOffset} to unwind to the first error. */
class SyntaxAt {
  constructor(readonly offset: number) {}
}

/**
 * The offset of the first character that makes `text` invalid JSON (`text.length` when it ends
 * too early), or `undefined` when `text` is valid.
 */
export function jsonSyntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(Math.min(i, text.length));
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const expect = (c: string) => {
    if (text[i] !== c) fail();
    i++;
  };
  const digits = () => {
    if (!isDigit(text[i])) fail();
    while (isDigit(text[i])) i++;
  };
  const string = () => {
    expect('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") fail();
      i++;
      if (c === '"') return;
      if (c !== "\\") continue;
      const e = text[i];
      if (e === "u") {
        i++;
        for (let k = 0; k < 4; k++) {
          if (!/[0-9a-fA-F]/.test(text.charAt(i))) fail();
          i++;
        }
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else fail();
    }
  };
  const key = () => {
    space();
    string();
    space();
    expect(":");
  };
  const scalar = (c: string | undefined) => {
    if (c === '"') {
      string();
      return;
    }
    if (c === "-" || isDigit(c)) {
      if (c === "-") i++;
      if (text[i] === "0") i++;
      else digits();
      if (text[i] === ".") {
        i++;
        digits();
      }
      if (text[i] === "e" || text[i] === "E") {
        i++;
        if (text[i] === "+" || text[i] === "-") i++;
        digits();
      }
      return;
    }
    const literal = ["true", "false", "null"].find((l) => l[0] === c);
    if (literal === undefined) fail();
    for (const ch of literal ?? "") expect(ch);
  };
  // Iterative, with the open containers' closing characters on a stack: any depth fits.
  const value = (): void => {
    const closers: string[] = [];
    for (;;) {
      // A value begins here.
      space();
      const c = text[i];
      if (c === "{" || c === "[") {
        const close = c === "{" ? "}" : "]";
        i++;
        space();
        if (text[i] === close) i++;
        else {
          closers.push(close);
          if (close === "}") key();
          continue;
        }
      } else scalar(c);
      // A value ended here: close containers, or go on to the next element.
      for (;;) {
        const close = closers.at(-1);
        if (close === undefined) return;
        space();
        if (text[i] !== close) break;
        i++;
        closers.pop();
      }
      expect(",");
      if (closers.at(-1) === "}") key();
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof SyntaxAt) return error.offset;
    throw error;
  }
}

/** V8's message without its position (reported separately) or its echo of the input. */
export function cleanJsonMessage(message: string): string {
  return message
    .replace(/ in JSON at position \d+(?: \(line \d+ column \d+\))?/, "")
    .replace(/^(Unexpected token '.*?'),[\s\S]*is not valid JSON$/, "$1");
}

/** A hint for the commonest mistakes at `position`: a comment, a trailing comma, single quotes. */
export function jsonHint(text: string, position: number): string {
  const c = text[position];
  if (c === "/" && (text[position + 1] === "/" || text[position + 1] === "*")) {
    return " (JSON has no comments: remove them; config/workspaces.schema.json documents every field)";
  }
  if ((c === "}" || c === "]") && text.slice(0, position).trimEnd().endsWith(",")) {
    return " (remove the trailing comma before it)";
  }
  if (c === "'") return " (JSON strings need double quotes)";
  return "";
}
