// The docs hold together: every relative link in README.md and docs/*.md reaches a file, and its
// #anchor a heading there (as GitHub makes anchors); every src/, lua/, sql/ and test/ path they
// name exists; ARCHITECTURE's layout drawing lists every folder and file at the root of src/;
// README.md stays at most 300 lines.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { DOCS, anchorsOf, prose } from "./markdown";

const ROOT = join(import.meta.dir, "..");
const read = (file: string) => Bun.file(join(ROOT, file)).text();

test("every relative link and anchor in README.md and docs/*.md resolves", async () => {
  const broken: string[] = [];
  for (const file of DOCS) {
    const text = await read(file);
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // http:, https:, mailto:
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      const to = path === "" ? file : relative(ROOT, join(ROOT, dirname(file), path));
      if (!existsSync(join(ROOT, to))) {
        broken.push(`${file}: ${target} (no file ${to})`);
        continue;
      }
      if (anchor !== undefined && !(to.endsWith(".md") && anchorsOf(await read(to)).has(anchor))) {
        broken.push(`${file}: ${target} (no heading #${anchor} in ${to})`);
      }
    }
  }
  expect(broken).toEqual([]);
});

test("every src/, lua/, sql/ and test/ path the docs name exists", async () => {
  const missing: string[] = [];
  for (const file of DOCS) {
    for (const [path] of (await read(file)).matchAll(/(?<![\w./-])(?:src|lua|sql|test)\/[\w./-]*[\w/]/g)) {
      if (existsSync(join(ROOT, path))) continue;
      // a migration named by its number (sql/0006) stands for its file
      const dir = join(ROOT, dirname(path));
      const named = existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(path.split("/").pop()! + "_"));
      if (!named) missing.push(`${file}: ${path}`);
    }
  }
  expect(missing).toEqual([]);
});

test("ARCHITECTURE's layout drawing lists every folder and file at the root of src/", async () => {
  const text = await read("docs/ARCHITECTURE.md");
  const drawing = text.slice(text.indexOf("## The layout")).split("```")[1]!;
  for (const entry of readdirSync(join(ROOT, "src"))) {
    const folder = statSync(join(ROOT, "src", entry)).isDirectory();
    expect(drawing).toMatch(folder ? new RegExp(`^  ${entry}/ `, "m") : new RegExp(`\\b${entry.replace(".", "\\.")}\\b`));
  }
  // and every folder it draws under src/ is there
  for (const [, folder] of drawing.matchAll(/^  ([\w-]+)\/ /gm)) expect(existsSync(join(ROOT, "src", folder!))).toBe(true);
});

test("README.md stays short: at most 300 lines (the rest is in docs/)", async () => {
  expect((await read("README.md")).trimEnd().split("\n").length).toBeLessThanOrEqual(300);
});
