/**
 * The command line's version: the `version` of the package's own `package.json`, found by walking
 * up from this module, so it is the same whether the CLI runs from the sources or from compiled
 * JavaScript in an installed package.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's name, which marks its `package.json` among the enclosing ones. */
export const PACKAGE_NAME = "atlas-audit-archiver";

/** The version of the package this module belongs to, e.g. `0.1.0`. */
export function cliVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === "string") return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error(`${PACKAGE_NAME}: no package.json of its own above ${from}`);
  }
}
