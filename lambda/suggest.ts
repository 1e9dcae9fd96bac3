/**
 * "Did you mean": the names close to a mistyped one, by edit distance. Pure; used by the command
 * line for commands and flags, and by the readers for a workspace or stream processor that is not
 * in the archive.
 *
 * Close means at most {@link maxEdits} edits (insertions, deletions, substitutions, or swaps of
 * two adjacent characters), ignoring case: one edit for names of up to 5 characters, two for 6 to
 * 8, three for 9 or more. A candidate that starts with the name (3 characters or more) is close
 * too, so `--conc` suggests `--concurrency`.
 */

/** The edits allowed between a name of `length` characters and a suggestion: 1 up to 5, 2 up to 8, else 3. */
export function maxEdits(length: number): number {
  return Math.min(3, Math.max(1, Math.floor(length / 3)));
}

/**
 * The optimal string alignment distance between `a` and `b`: insertions, deletions,
 * substitutions and swaps of adjacent characters each count one.
 *
 * @example
 * ```ts
 * editDistance("verfy", "verify"); // 1
 * editDistance("tenat", "tenant"); // 1
 * editDistance("reprot", "report"); // 1 (a swap)
 * ```
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the table: two back (for swaps), the previous one, the current one.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (before[j - 2] as number) + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The candidates close to `name` (see the module's rule), closest first, at most `limit`; none
 * when `name` is itself a candidate.
 *
 * @example
 * ```ts
 * suggest("lss", ["run", "ls", "cat"]); // ["ls"]
 * suggest("--tennat", ["--tenant", "--group"]); // ["--tenant"]
 * suggest("deploy", ["run", "ls"]); // []
 * ```
 */
export function suggest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const wanted = name.toLowerCase();
  const scored: { candidate: string; distance: number }[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === name) return [];
    const lower = candidate.toLowerCase();
    const distance = editDistance(wanted, lower);
    const prefix = wanted.replace(/^-+/, "").length >= 3 && lower.startsWith(wanted);
    if (distance <= maxEdits(wanted.replace(/^-+/, "").length) || prefix)
      scored.push({ candidate, distance });
  }
  return scored
    .sort((x, y) => x.distance - y.distance || (x.candidate < y.candidate ? -1 : 1))
    .slice(0, limit)
    .map((s) => s.candidate);
}

/**
 * ` Did you mean X?` (or `X or Y?`) for `name` among `candidates`, or an empty string.
 *
 * @param show how a candidate is written in the sentence (default: as it is)
 * @example
 * ```ts
 * didYouMean("verfy", ["run", "verify"]); // " Did you mean verify?"
 * ```
 */
export function didYouMean(
  name: string,
  candidates: Iterable<string>,
  show: (candidate: string) => string = (c) => c,
): string {
  const close = suggest(name, candidates).map(show);
  if (close.length === 0) return "";
  const last = close.pop() as string;
  return ` Did you mean ${close.length > 0 ? `${close.join(", ")} or ${last}` : last}?`;
}
