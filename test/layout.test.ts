// The shape of src/ (issue #19): its root holds the entry points and the wiring, at most 8 files,
// and the folders import each other in layers, never in a circle. Type imports count too: a
// circle of types is one a reader has to go round all the same.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = join(import.meta.dir, "..", "src");
const ROOT = "."; // the folder the root's files are in

const IMPORT = /^\s*(?:import|export)\s+[^;]*?\s+from\s+["'](\.[^"']+)["']/gm;

/** Folder -> the folders its files import (relative imports of .ts files in src/, the page's too). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of new Bun.Glob("**/*.ts").scanSync(SRC)) {
    const from = dirname(file);
    const text = readFileSync(join(SRC, file), "utf8");
    for (const [, spec] of text.matchAll(IMPORT)) {
      const target = resolve(SRC, from, spec!);
      if (!target.startsWith(SRC + "/")) continue; // sql/, lua/
      const to = dirname(relative(SRC, target.replace(/\.ts$/, "") + ".ts"));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `src/${file} -> ${spec}`);
    }
  }
  return graph;
}

/** Each circle found, as the imports going round it (a depth-first search for a way back). */
function circles(graph: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (folder: string, path: string[], imports: string[]) => {
    if (done.has(folder)) return;
    const at = path.indexOf(folder);
    if (at >= 0) return void found.push(imports.slice(at));
    for (const [to, how] of graph.get(folder) ?? []) visit(to, [...path, folder], [...imports, how]);
    done.add(folder); // every way on from here is known: no circle goes back through it unseen
  };
  for (const folder of graph.keys()) visit(folder, [], []);
  return found;
}

describe("src/ layout", () => {
  test("the root holds at most 8 files", () => {
    const files = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name);
    expect(files.length).toBeLessThanOrEqual(8);
  });

  test("no circle of imports between folders (the root's files one folder)", () => {
    expect(circles(folderGraph())).toEqual([]);
  });

  test("the check sees a circle: a folder importing one that imports it back", () => {
    const graph = folderGraph();
    graph.set("store", new Map([...(graph.get("store") ?? []), ["admin", "src/store/x.ts -> ../admin/x"]]));
    expect(circles(graph).length).toBeGreaterThan(0);
    graph.set("store", new Map([...(graph.get("store") ?? []), [ROOT, "src/store/x.ts -> ../services"]]));
    expect(circles(graph).some((circle) => circle.some((how) => how.endsWith("../services")))).toBe(true);
  });
});
