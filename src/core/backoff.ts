// The one back-off loop of the background workers: run a step until aborted; while it fails,
// wait 50 ms, doubling up to 2 s; log the first failure of a run of them and the recovery.
import type { Logger } from "./log";
import { leaveReadOnlyServer } from "../store/read-only";

export const BACKOFF_FIRST_MS = 50;
export const BACKOFF_MAX_MS = 2000;

export type BackoffLog = {
  log: Pick<Logger, "info" | "warn">;
  /** Logged (warn, with the error) at the first failure after a success. */
  failed: string;
  /** Logged (info) at the first success after failures. */
  resumed: string;
};

/** What a worker's loop tells its host besides the log (src/workers: readiness and metrics). */
export type LoopHooks = {
  /** The loop is alive: it steps again after `nextInMs` (plus the next step's own time). */
  beat?: (nextInMs: number) => void;
  /** A step failed; `first`: the first failure after a success (an outage, if it is one, starts). */
  failed?: (err: unknown, first: boolean) => void;
};

/**
 * Runs `step` until `signal` fires. A step returns how long to wait before the next one (0: go
 * on at once); a failing step is retried after the back-off. Waits end early on abort.
 */
export async function runWithBackoff(
  signal: AbortSignal, say: BackoffLog, step: () => Promise<number>, hooks: LoopHooks = {},
): Promise<void> {
  let backoff = 0;
  while (!signal.aborted) {
    let wait: number;
    try {
      wait = await step();
      if (backoff > 0) say.log.info(say.resumed);
      backoff = 0;
    } catch (err) {
      leaveReadOnlyServer(err); // a standby's connection: the next step gets the primary's
      if (backoff === 0) say.log.warn(say.failed, { error: err });
      hooks.failed?.(err, backoff === 0);
      backoff = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_FIRST_MS, backoff * 2));
      wait = backoff;
    }
    hooks.beat?.(wait);
    if (wait > 0) await sleepUnlessAborted(wait, signal);
  }
}

export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  // told to stop during the step before: no wait at all (an abort event will not come again)
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
