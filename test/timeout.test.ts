// The one timeout race (src/core/timeout.ts) and the one log throttle (src/core/log.ts) the service
// uses wherever a wait must not outlast its deadline or a repeated failure must not flood the log.
import { afterEach, expect, setSystemTime, test } from "bun:test";
import { throttled } from "../src/core/log";
import { within } from "../src/core/timeout";

const never = new Promise<string>(() => {});

test("within: the work's value when it comes in time", async () => {
  expect(await within(1000, Promise.resolve("done"), () => "late")).toBe("done");
});

test("within: past the deadline, what late() returns", async () => {
  const started = performance.now();
  expect(await within(30, never, () => "late")).toBe("late");
  expect(performance.now() - started).toBeGreaterThanOrEqual(28); // timers may fire a hair early
});

test("within: past the deadline, what late() throws", async () => {
  await expect(within(10, never, () => { throw new Error("too slow"); })).rejects.toThrow("too slow");
});

test("within: the work's own failure, in time, is passed on; one after the deadline is ignored", async () => {
  await expect(within(1000, Promise.reject(new Error("broken")), () => "late")).rejects.toThrow("broken");
  const failsLate = Promise.withResolvers<never>();
  expect(await within(5, failsLate.promise, () => "late")).toBe("late");
  failsLate.reject(new Error("too late to matter")); // after the deadline, for sure
  await failsLate.promise.catch(() => {}); // settled without an unhandled rejection
});

afterEach(() => void setSystemTime());

test("throttled: one call an interval, the rest dropped", () => {
  const written: string[] = [];
  const warn = throttled((message: string) => void written.push(message), 5000);
  setSystemTime(new Date("2026-01-01T00:00:00Z"));
  warn("first");
  warn("dropped");
  setSystemTime(new Date("2026-01-01T00:00:04.999Z"));
  warn("still dropped");
  setSystemTime(new Date("2026-01-01T00:00:05Z"));
  warn("second");
  expect(written).toEqual(["first", "second"]);
});
