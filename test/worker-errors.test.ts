// A worker outlives an error thrown by a stray callback (src/workers/protocol.ts): before, one
// such error in a PostgreSQL restart ended the cleaner for good, and the instance served on
// without it, never ready again. The worker is hosted by a process of its own
// (test/stray-error-worker.ts), as the binary hosts its workers.
import { expect, test } from "bun:test";

test("a stray callback's error is logged and the worker carries on: still healthy, still answering", async () => {
  const run = Bun.spawn([process.execPath, "test/stray-error-worker.ts"], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(run.stdout).text();
  expect(await run.exited).toBe(0);
  const lines = out.trim().split("\n");
  expect(lines.some((l) => l.includes("stray error in a worker callback; the worker carries on"))).toBe(true);
  expect(JSON.parse(lines.at(-1)!)).toEqual({ health: "ok", answers: true });
});
