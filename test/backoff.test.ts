// The workers' back-off loop: 50 ms doubling to 2 s while a step fails, the first failure and the
// recovery logged once each, and an abort ends a wait at once.
import { expect, test } from "bun:test";
import { runWithBackoff, sleepUnlessAborted } from "../src/core/backoff";

function recorder() {
  const lines: string[] = [];
  const log = { info: (m: string) => void lines.push(`info ${m}`), warn: (m: string) => void lines.push(`warn ${m}`) };
  return { lines, say: { log, failed: "step failed; backing off", resumed: "step resumed" } };
}

test("backs off 50, 100, 200, 400 ms on failures; logs the first failure and the recovery once", async () => {
  const { lines, say } = recorder();
  const abort = new AbortController();
  const at: number[] = [];
  const waits: number[] = [];
  await runWithBackoff(abort.signal, say, async () => {
    at.push(performance.now());
    if (at.length <= 4) throw new Error("down");
    if (at.length === 6) abort.abort();
    return 0;
  }, { beat: (nextInMs) => void waits.push(nextInMs) });
  // the schedule as the loop chose it: doubled after each failure, none after a success
  expect(waits).toEqual([50, 100, 200, 400, 0, 0]);
  // and it did wait (a loaded machine's timers fire late, never early: no upper bound here)
  const gaps = at.slice(1, 5).map((t, i) => t - at[i]!);
  [50, 100, 200, 400].forEach((ms, i) => expect(gaps[i]!).toBeGreaterThanOrEqual(ms - 2));
  expect(lines).toEqual(["warn step failed; backing off", "info step resumed"]);
});

test("an abort ends the wait at once", async () => {
  const { say } = recorder();
  const abort = new AbortController();
  const started = performance.now();
  // aborted once the 10 s wait has begun (beat: the loop is about to wait)
  await runWithBackoff(abort.signal, say, async () => 10_000, { beat: () => queueMicrotask(() => abort.abort()) });
  expect(performance.now() - started).toBeLessThan(1000);
});

// A stop that arrived while a step ran: the loop must not sit through a full back-off first.
test("a signal aborted before the wait: no wait at all (the test's 1 s limit, against a minute's wait)", async () => {
  await sleepUnlessAborted(60_000, AbortSignal.abort());
}, 1000);
