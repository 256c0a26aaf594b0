// Builds the one-file binary: the entry point plus its workers (each must be an entry point of
// its own, or the binary cannot start them), with the Lua and SQL files imported as text.
//   bun scripts/binary.ts [outfile]      (default dist/ticket-queue; `npm run build` runs it)
const root = new URL("..", import.meta.url).pathname;
export const DIST_BINARY = `${root}dist/ticket-queue`;

export async function buildBinary(outfile = DIST_BINARY): Promise<string> {
  const build = Bun.spawn(
    ["bun", "build", "--compile", "--minify",
      "src/main.ts", "src/threads/processor.ts", "src/threads/cleaner.ts", "src/threads/webhooks.ts", "src/threads/http.ts", "--outfile", outfile],
    { cwd: root, stdout: "ignore", stderr: "pipe" },
  );
  if ((await build.exited) !== 0) throw new Error(`build failed: ${await new Response(build.stderr).text()}`);
  return outfile;
}

if (import.meta.main) console.log(`built ${await buildBinary(process.argv[2])}`);
