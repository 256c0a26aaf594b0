// The migration list and the script registry against the files in sql/ and lua/: a file added
// without registering it (or a registration without its file) fails here, not in production.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import { MIGRATIONS } from "../src/store/db";
import { INCLUDES, SCRIPT_FILES as SCRIPTS } from "../src/store/scripts";

const root = joinPath(import.meta.dir, "..");
const filesIn = (folder: string, extension: string) =>
  readdirSync(joinPath(root, folder), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(extension))
    .map((e) => e.name.slice(0, -extension.length))
    .sort();
const read = (...path: string[]) => readFileSync(joinPath(root, ...path), "utf8");

describe("migrations", () => {
  test("every sql/*.sql file is in MIGRATIONS, in order, with its own text, and nothing else is", () => {
    const files = filesIn("sql", ".sql");
    expect(files.length).toBeGreaterThan(0);
    expect(MIGRATIONS.map((m) => m.version)).toEqual(files);
    for (const { version, text } of MIGRATIONS) expect(text).toBe(read("sql", `${version}.sql`));
  });

  test("versions are numbered one after another from 0001", () => {
    expect(MIGRATIONS.map((m) => m.version.slice(0, 4))).toEqual(
      MIGRATIONS.map((_, i) => String(i + 1).padStart(4, "0")),
    );
  });
});

describe("Lua scripts", () => {
  const registered = Object.values(SCRIPTS) as ReadonlyArray<readonly [string, string]>;

  test("every lua/*.lua file is registered once, with its own text, and nothing else is", () => {
    const files = filesIn("lua", ".lua");
    expect(files.length).toBeGreaterThan(0);
    expect(registered.map(([file]) => file).sort()).toEqual(files);
    for (const [file, lua] of registered) expect(lua).toBe(read("lua", `${file}.lua`));
  });

  test("each script's name says how many keys it takes, and it uses exactly KEYS[1] to KEYS[n]", () => {
    for (const [file, lua] of registered) {
      const count = file.match(/-(\d+)$/)?.[1];
      expect(count, `${file}.lua names no key count`).toBeDefined();
      const used = [...new Set([...lua.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
      expect(used, `${file}.lua`).toEqual(Array.from({ length: Number(count) }, (_, i) => i + 1));
    }
  });

  test("every lua/includes/*.lua file is an include, with its own text; every include a script names exists", () => {
    const files = filesIn("lua/includes", ".lua");
    expect(Object.keys(INCLUDES).sort()).toEqual(files);
    for (const [name, text] of Object.entries(INCLUDES)) expect(text).toBe(read("lua/includes", `${name}.lua`));
    const named = registered.flatMap(([, lua]) => [...lua.matchAll(/^--@include (\w+)$/gm)].map((m) => m[1]!));
    for (const name of named) expect(files).toContain(name);
  });
});
