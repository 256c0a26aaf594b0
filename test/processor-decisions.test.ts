// The processor's decisions (src/processing/schedule.ts), one by one: pure functions of its
// state and the time, so neither Redis nor PostgreSQL is needed here. How they play out
// together is in concurrency.test.ts, admission.test.ts, sale-gates.test.ts and lifecycle.test.ts.
import { describe, expect, test } from "bun:test";
import { NO_CONTROLS, type SaleControls } from "../src/processing/admission";
import {
  BLOCKED_RETRY_MS, firstBatchSize, LONE_TURN_MS, newProcessorState, nextRate, othersCanBeServed, RATE_RETRY_MIN_MS,
  rateHoldBackMs, recoverOlderThan, servedNow, SWEEP_MS, sweepDue, TURN_MS, turnIsOver, UNBLOCK_CHECK_MS, unblockDue,
  unblocked, waits, type Blocked, type ProcessorState,
} from "../src/processing/schedule";

const now = 1_000_000;
const paused: SaleControls = { ...NO_CONTROLS, paused: true };
const startsAt = (at: number): SaleControls => ({ ...NO_CONTROLS, saleStartsAt: at });
const stateWith = (fields: Partial<ProcessorState> = {}): ProcessorState => ({ ...newProcessorState(), ...fields });

describe("waits", () => {
  test("a type with no controls and not held back is served", () => {
    expect(waits(NO_CONTROLS, undefined, now)).toBe(false);
  });

  test("a paused type waits, whatever its hold-back", () => {
    expect(waits(paused, undefined, now)).toBe(true);
    expect(waits(paused, now - 1, now)).toBe(true);
  });

  test("a type whose sale starts later waits; from its start it is served", () => {
    expect(waits(startsAt(now + 1), undefined, now)).toBe(true);
    expect(waits(startsAt(now), undefined, now)).toBe(false);
    expect(waits(startsAt(now - 1), undefined, now)).toBe(false);
  });

  test("a type held back waits until the moment given, not at it", () => {
    expect(waits(NO_CONTROLS, now + 1, now)).toBe(true);
    expect(waits(NO_CONTROLS, now, now)).toBe(false);
    expect(waits(NO_CONTROLS, now - 1, now)).toBe(false);
  });
});

describe("servedNow", () => {
  test("served unless blocked for stock, paused, not started or held back", () => {
    expect(servedNow(stateWith(), NO_CONTROLS, 1, now)).toBe(true);
    expect(servedNow(stateWith({ blocked: new Map([[1, { stock: 0, since: now }]]) }), NO_CONTROLS, 1, now)).toBe(false);
    expect(servedNow(stateWith(), paused, 1, now)).toBe(false);
    expect(servedNow(stateWith(), startsAt(now + 10), 1, now)).toBe(false);
    expect(servedNow(stateWith({ heldBack: new Map([[1, now + 50]]) }), NO_CONTROLS, 1, now)).toBe(false);
    expect(servedNow(stateWith({ heldBack: new Map([[1, now - 50]]) }), NO_CONTROLS, 1, now)).toBe(true);
  });

  test("another type's state does not count", () => {
    const state = stateWith({ blocked: new Map([[2, { stock: 0, since: now }]]), heldBack: new Map([[3, now + 50]]) });
    expect(servedNow(state, NO_CONTROLS, 1, now)).toBe(true);
  });
});

describe("othersCanBeServed", () => {
  const controlsOf = (pausedIds: number[]) => (id: number) => (pausedIds.includes(id) ? paused : NO_CONTROLS);

  test("the type itself does not count, alone on the active set", () => {
    expect(othersCanBeServed(stateWith(), controlsOf([]), 1, [1], now)).toBe(false);
    expect(othersCanBeServed(stateWith(), controlsOf([]), 1, [], now)).toBe(false);
  });

  test("any other type that could be served now counts", () => {
    expect(othersCanBeServed(stateWith(), controlsOf([]), 1, [1, 2], now)).toBe(true);
    expect(othersCanBeServed(stateWith(), controlsOf([2]), 1, [1, 2, 3], now)).toBe(true);
  });

  test("others blocked for stock, paused or held back do not", () => {
    const state = stateWith({ blocked: new Map([[2, { stock: 0, since: now }]]), heldBack: new Map([[4, now + 50]]) });
    expect(othersCanBeServed(state, controlsOf([3]), 1, [1, 2, 3, 4], now)).toBe(false);
    expect(othersCanBeServed(state, controlsOf([3]), 1, [1, 2, 3, 4], now + 50)).toBe(true); // 4's hold-back is over
  });

  test("an id that is not a safe integer (a stray member of the active set) does not", () => {
    expect(othersCanBeServed(stateWith(), controlsOf([]), 1, [Number.NaN, 1.5, 2 ** 53], now)).toBe(false);
  });
});

describe("firstBatchSize", () => {
  test("a whole batch, or a probe of one person for a type that was blocked", () => {
    const state = stateWith({ probing: new Set([2]) });
    expect(firstBatchSize(state, 1, 20)).toBe(20);
    expect(firstBatchSize(state, 2, 20)).toBe(1);
  });
});

describe("turnIsOver", () => {
  test("a turn lasts TURN_MS while other types wait", () => {
    expect(TURN_MS).toBe(100);
    expect(turnIsOver(now, true, now + TURN_MS - 1)).toBe(false);
    expect(turnIsOver(now, true, now + TURN_MS)).toBe(true);
  });

  test("a lone turn lasts LONE_TURN_MS", () => {
    expect(LONE_TURN_MS).toBe(500);
    expect(turnIsOver(now, false, now + TURN_MS)).toBe(false);
    expect(turnIsOver(now, false, now + LONE_TURN_MS - 1)).toBe(false);
    expect(turnIsOver(now, false, now + LONE_TURN_MS)).toBe(true);
  });

  test("another type starting to wait midway ends a lone turn that has lasted TURN_MS", () => {
    const started = now;
    let othersWaiting = false;
    const over = (at: number) => turnIsOver(started, othersWaiting, at);
    expect(over(now + 200)).toBe(false);
    othersWaiting = true;
    expect(over(now + 200)).toBe(true);
  });
});

describe("rateHoldBackMs", () => {
  test("what holds_per_minute asks, never less than RATE_RETRY_MIN_MS", () => {
    expect(rateHoldBackMs(0)).toBe(RATE_RETRY_MIN_MS);
    expect(rateHoldBackMs(RATE_RETRY_MIN_MS - 1)).toBe(RATE_RETRY_MIN_MS);
    expect(rateHoldBackMs(1200)).toBe(1200);
  });
});

describe("recoverOlderThan", () => {
  test("another processor's batch after the recover delay; our own failed batch at once", () => {
    const state = stateWith({ failed: new Set([2]) });
    expect(recoverOlderThan(state, 1, 5000)).toBe(5000);
    expect(recoverOlderThan(state, 2, 5000)).toBe(0);
  });
});

describe("unblockDue", () => {
  const blocked = new Map<number, Blocked>([[1, { stock: 0, since: now }]]);

  test("never while no type is blocked", () => {
    expect(unblockDue(stateWith(), now)).toBe(false);
  });

  test("at most every UNBLOCK_CHECK_MS", () => {
    const state = stateWith({ blocked, lastUnblockCheck: now });
    expect(unblockDue(state, now + UNBLOCK_CHECK_MS - 1)).toBe(false);
    expect(unblockDue(state, now + UNBLOCK_CHECK_MS)).toBe(true);
    expect(unblockDue(stateWith({ blocked }), now)).toBe(true); // never looked at yet
  });
});

describe("unblocked", () => {
  const blocked = new Map<number, Blocked>([
    [1, { stock: 0, since: now }],
    [2, { stock: 3, since: now }],
    [3, { stock: null, since: now }],
  ]);

  test("types whose stock moved are served again; the others keep waiting", () => {
    expect(unblocked(blocked, new Map([[1, 0], [2, 3], [3, 5]]), now + 10, BLOCKED_RETRY_MS)).toEqual([3]);
    expect(unblocked(blocked, new Map([[1, 2], [2, 3], [3, 5]]), now + 10, BLOCKED_RETRY_MS)).toEqual([1, 3]);
    expect(unblocked(blocked, new Map([[1, 0], [2, 1], [3, 5]]), now + 10, BLOCKED_RETRY_MS)).toEqual([2, 3]);
  });

  test("a type gone from the stock read counts as moved", () => {
    expect(unblocked(blocked, new Map([[2, 3], [3, 5]]), now + 10, BLOCKED_RETRY_MS)).toEqual([1, 3]);
  });

  test("every type is retried once it has waited longer than the retry delay, stock moved or not", () => {
    const stock = new Map([[1, 0], [2, 3], [3, 5]]);
    expect(BLOCKED_RETRY_MS).toBe(1000);
    expect(unblocked(blocked, stock, now + BLOCKED_RETRY_MS, BLOCKED_RETRY_MS)).toEqual([3]);
    expect(unblocked(blocked, stock, now + BLOCKED_RETRY_MS + 1, BLOCKED_RETRY_MS)).toEqual([1, 2, 3]);
    expect(unblocked(blocked, stock, now + 51, 50)).toEqual([1, 2, 3]); // the delay is the processor's option
  });
});

describe("sweepDue", () => {
  test("once more than SWEEP_MS has passed", () => {
    expect(sweepDue(0, now)).toBe(true); // never swept yet
    expect(sweepDue(now, now + SWEEP_MS)).toBe(false);
    expect(sweepDue(now, now + SWEEP_MS + 1)).toBe(true);
  });
});

describe("nextRate", () => {
  test("nothing measured within the first second; holds are counted meanwhile", () => {
    const first = nextRate(undefined, 0, now);
    expect(first).toEqual({ since: now, granted: 0, perSecond: null });
    const later = nextRate(nextRate(first, 30, now + 400), 20, now + 999);
    expect(later).toEqual({ since: now, granted: 50, perSecond: null });
  });

  test("after a second, the rate over it; its count starts again", () => {
    const r = nextRate({ since: now, granted: 50, perSecond: null }, 10, now + 1000);
    expect(r).toEqual({ since: now + 1000, granted: 0, perSecond: 60 });
  });

  test("the rate over a longer window is per second", () => {
    expect(nextRate({ since: now, granted: 100, perSecond: null }, 0, now + 2000).perSecond).toBe(50);
  });

  test("each later window is averaged half and half with the average before", () => {
    const r = nextRate({ since: now, granted: 20, perSecond: 100 }, 0, now + 1000);
    expect(r.perSecond).toBe(60);
    expect(nextRate({ since: now, granted: 0, perSecond: 60 }, 0, now + 1000).perSecond).toBe(30); // nobody served: it decays
  });

  test("a look at it (0 granted) within the window changes nothing", () => {
    const before = { since: now, granted: 7, perSecond: 42 };
    expect(nextRate(before, 0, now + 500)).toEqual(before);
    expect(before).toEqual({ since: now, granted: 7, perSecond: 42 }); // and the one given is left alone
  });
});
