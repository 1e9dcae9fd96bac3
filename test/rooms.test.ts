/**
 * The rooms' rules, checked on the source: no import circle anywhere in `lib/`, `lambda/` and
 * `bin/`; `lib/` reaches into the runtime only through the configuration module; the runtime
 * never imports aws-cdk-lib.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "..");
const ROOMS = ["lib", "lambda", "bin"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module specifier of a file: static imports and exports (type-only too), dynamic imports. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/g))
    found.push(m[1] as string);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*"([^"]+)"/g)) found.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) found.push(m[1] as string);
  return found;
}

/** The file a relative specifier names (`./x` → `x.ts` or `x/index.ts`), if it is a source file. */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier.replace(/\.js$/, ""));
  return [`${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p));
}

const files = ROOMS.flatMap((room) => sources(join(ROOT, room)));
const graph = new Map(
  files.map((file) => {
    const text = readFileSync(file, "utf8");
    const all = specifiers(text);
    return [
      file,
      {
        local: all.flatMap((s) =>
          s.startsWith(".") ? [resolveRelative(file, s)].filter((p) => p !== undefined) : [],
        ),
        packages: all.filter((s) => !s.startsWith(".")),
      },
    ] as const;
  }),
);
const rel = (p: string) => relative(ROOT, p);

/** Every import circle, each as the list of files around it (found by depth-first search). */
function circles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file)?.local ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next].map(rel));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

describe("the rooms", () => {
  it("reads every source file and its imports", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get(join(ROOT, "lambda/worker-handler.ts"))?.local.map(rel)).toContain(
      "lambda/queue/worker.ts",
    );
    expect(graph.get(join(ROOT, "lambda/planner-handler.ts"))?.local.map(rel)).toContain(
      "lambda/queue/planner.ts",
    );
  });

  it("have no import circle in lib/, lambda/ or bin/", () => {
    expect(circles()).toEqual([]);
  });

  it("lib/ imports from lambda/ only its configuration module", () => {
    const crossings = [...graph].flatMap(([file, { local }]) =>
      rel(file).startsWith("lib/")
        ? local
            .filter((to) => rel(to).startsWith("lambda/") && !rel(to).startsWith("lambda/config/"))
            .map((to) => `${rel(file)} -> ${rel(to)}`)
        : [],
    );
    expect(crossings).toEqual([]);
  });

  it("lambda/ never imports lib/, bin/ or aws-cdk-lib", () => {
    const crossings = [...graph].flatMap(([file, { local, packages }]) =>
      rel(file).startsWith("lambda/")
        ? [
            ...local.filter((to) => !rel(to).startsWith("lambda/")).map((to) => `${rel(file)} -> ${rel(to)}`),
            ...packages
              .filter((p) => /^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/.test(p))
              .map((p) => `${rel(file)} -> ${p}`),
          ]
        : [],
    );
    expect(crossings).toEqual([]);
  });
});
