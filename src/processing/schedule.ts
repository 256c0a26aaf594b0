// The processor's state, in one object, and what it decides from it: which ticket types are
// served in a round, when a type's turn is over, when blocked types are looked at again, how
// long a type is left alone after its turn, the grant rate the estimated waits use.
//
// Processor (processor.ts) does the I/O and keeps this state up to date; every decision it
// takes is one of the pure functions below, given the time (`now`) rather than reading the
// clock, so that test/processor-decisions.test.ts needs neither Redis nor PostgreSQL.
import type { SaleControls } from "./admission";

/** How long one ticket type is served before the others get a turn. */
export const TURN_MS = 100;
/**
 * A turn while no other type waits. Each turn restarts the claim/grant pipeline (its first claim
 * overlaps nothing), which cost a fifth of the grant rate at 100 ms turns (bench/).
 */
export const LONE_TURN_MS = 500;
/** During a lone turn, how often to look for another type that starts waiting (it ends the turn). */
export const OTHERS_CHECK_MS = 25;
/** How often blocked types are looked at (has their stock moved?). */
export const UNBLOCK_CHECK_MS = 25;
/** A type whose head cannot be served yet is retried when its stock moves, or after this long. */
export const BLOCKED_RETRY_MS = 1000;
/** How often the sweep runs, and the paused types' leftovers in flight are finished. */
export const SWEEP_MS = 1000;
/**
 * A type at its max_active_holds is looked at again this soon: holds end by confirm (which
 * moves no stock, so the stock watch of blocked types would not see it), release or expiry.
 */
export const ROOM_RETRY_MS = 50;
/** The least a type held back by holds_per_minute waits, so that its claims still take several people. */
export const RATE_RETRY_MIN_MS = 50;
/**
 * A type whose grant found the sale closed (paused, or its start moved ahead, since the controls
 * were read) is left alone this long; the controls are read again before it is looked at.
 */
export const CLOSED_RETRY_MS = 250;
/** The grant rate is measured over at least this long, then averaged with the one before. */
export const RATE_WINDOW_MS = 1000;

/** A type whose head waits for stock to come back: the stock seen then (null: unknown), and when. */
export type Blocked = { stock: number | null; since: number };

/** Holds granted since `since`, and the grants per second measured before (null: none yet). */
export type RateAverage = { since: number; granted: number; perSecond: number | null };

/** Everything a processor remembers between rounds, per ticket type and overall. */
export type ProcessorState = {
  /** Types whose head waits for stock to come back, with the stock seen then. */
  blocked: Map<number, Blocked>;
  /** Types that were blocked: their next turn starts with a probe of one person. */
  probing: Set<number>;
  /** Types whose last batch here failed midway: their in-flight tokens are ours to recover now. */
  failed: Set<number>;
  /** Grants per second lately, per type. */
  rates: Map<number, RateAverage>;
  /** Types admission control holds back (no room under max_active_holds, no token yet, or closed), until when. */
  heldBack: Map<number, number>;
  /** When blocked types were last looked at, the sweep last ran, and paused types' leftovers were last finished. */
  lastUnblockCheck: number;
  lastSweep: number;
  lastPausedCheck: number;
};

export function newProcessorState(): ProcessorState {
  return {
    blocked: new Map(), probing: new Set(), failed: new Set(), rates: new Map(), heldBack: new Map(),
    lastUnblockCheck: 0, lastSweep: 0, lastPausedCheck: 0,
  };
}

/**
 * Whether a type is not to be served now: paused or its sale not started (it stays on the
 * active set, its queue intact), or held back by admission control until `heldBackUntil`. The
 * controls may be a moment old: the grant itself refuses a closed sale exactly.
 */
export function waits(controls: SaleControls, heldBackUntil: number | undefined, now: number): boolean {
  if (controls.paused || controls.saleStartsAt > now) return true;
  return heldBackUntil !== undefined && now < heldBackUntil;
}

/** Whether a type is served this round: not waiting for stock, and not waiting for anything else. */
export function servedNow(state: ProcessorState, controls: SaleControls, ticketTypeId: number, now: number): boolean {
  return !state.blocked.has(ticketTypeId) && !waits(controls, state.heldBack.get(ticketTypeId), now);
}

/**
 * Whether any of `ids` (the active set) is another type than `ticketTypeId` that this processor
 * could serve now: then `ticketTypeId`'s turn is a short one.
 */
export function othersCanBeServed(
  state: ProcessorState, controlsOf: (id: number) => SaleControls, ticketTypeId: number, ids: number[], now: number,
): boolean {
  return ids.some((id) => id !== ticketTypeId && Number.isSafeInteger(id) && servedNow(state, controlsOf(id), id, now));
}

/** How many people a turn's first claim asks for: one (a probe) for a type that was blocked, else a batch. */
export function firstBatchSize(state: ProcessorState, ticketTypeId: number, batchSize: number): number {
  return state.probing.has(ticketTypeId) ? 1 : batchSize;
}

/** Whether a turn that started at `started` is over: short while other types wait, long while none does. */
export function turnIsOver(started: number, othersWaiting: boolean, now: number): boolean {
  return now - started >= (othersWaiting ? TURN_MS : LONE_TURN_MS);
}

/** How long a type is left alone after a turn that holds_per_minute cut short, told to retry in `retryInMs`. */
export function rateHoldBackMs(retryInMs: number): number {
  return Math.max(retryInMs, RATE_RETRY_MIN_MS);
}

/** When a batch in flight without its processor is recovered: at once if it is our own failed batch. */
export function recoverOlderThan(state: ProcessorState, ticketTypeId: number, recoverAfterMs: number): number {
  return state.failed.has(ticketTypeId) ? 0 : recoverAfterMs;
}

/** Whether blocked types are to be looked at now: some are, and not within UNBLOCK_CHECK_MS. */
export function unblockDue(state: ProcessorState, now: number): boolean {
  return state.blocked.size > 0 && now - state.lastUnblockCheck >= UNBLOCK_CHECK_MS;
}

/**
 * The blocked types to serve again: those whose stock moved (an expiry or release) from what
 * was seen, or that waited longer than `retryMs` though it did not. `stock` is the stock now
 * (a type missing from it counts as moved).
 */
export function unblocked(
  blocked: ReadonlyMap<number, Blocked>, stock: ReadonlyMap<number, number>, now: number, retryMs: number,
): number[] {
  return [...blocked].filter(([id, seen]) => stock.get(id) !== seen.stock || now - seen.since > retryMs).map(([id]) => id);
}

/** Whether a task done every SWEEP_MS, last done at `last`, is due. */
export function sweepDue(last: number, now: number): boolean {
  return now - last > SWEEP_MS;
}

/**
 * The grant rate after `granted` more holds (0: only a look at it). Holds are counted for at
 * least RATE_WINDOW_MS; each window's rate is averaged half and half with the average before.
 */
export function nextRate(before: RateAverage | undefined, granted: number, now: number): RateAverage {
  const r = before ?? { since: now, granted: 0, perSecond: null };
  const total = r.granted + granted;
  if (now - r.since < RATE_WINDOW_MS) return { ...r, granted: total };
  const current = (total * 1000) / (now - r.since);
  return { since: now, granted: 0, perSecond: r.perSecond === null ? current : 0.5 * r.perSecond + 0.5 * current };
}
