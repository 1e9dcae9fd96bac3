/** What every section of the benchmark's report uses: the machine, the target checks, plain tables. */

/** Where the figures came from. */
export interface Machine {
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
}

/** One target of the issue, measured. */
export interface TargetCheck {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** A plain-text table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
}

/** The targets as a table, after the heading `Targets`. */
export function formatTargets(targets: readonly TargetCheck[]): string[] {
  return [
    "Targets",
    table(
      ["", "target", "measured", "met"],
      targets.map((t) => [t.name, t.target, t.measured, t.met ? "yes" : "NO"]),
    ),
  ];
}
