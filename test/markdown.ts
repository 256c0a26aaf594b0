// Reading the project's Markdown: which files are docs, their prose outside code blocks, the
// anchors GitHub gives their headings, their fenced blocks (test/docs-links.test.ts,
// test/docs-examples.test.ts).
import { readdirSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** Markdown outside fenced code blocks (links and headings inside them are not links). */
export function prose(text: string): string {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (line.startsWith("```")) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  }).join("\n");
}

/** GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a file's headings; a repeated one gets -1, -2, ... as on GitHub. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!.trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}


/** The fenced blocks of a Markdown text: their language, text and first line (1-based). */
export function fencedBlocks(text: string): { lang: string; code: string; line: number }[] {
  const blocks: { lang: string; code: string; line: number }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(/^```(\S*)/);
    if (!open) continue;
    const start = i + 1;
    while (++i < lines.length && !lines[i]!.startsWith("```"));
    blocks.push({ lang: open[1]!, code: lines.slice(start, i).join("\n"), line: start + 1 });
  }
  return blocks;
}
