// The text formats that cross between TypeScript, the Lua scripts and PostgreSQL, each encoded
// and decoded here and nowhere else (test/formats.test.ts round-trips each). Lua builds and
// reads the same texts: the script named beside each format is its other owner.
import { SETTLE_CODES, storedState, type TokenState } from "../domain/states";

/**
 * One person of a batch: "<token>\t<user id>\t<quantity>\t<place>". join-3.lua writes it into
 * the person's record when they join, claim-3.lua hands a batch over as these lines (one per
 * person, newline-separated), and grant_holds() (sql/0004) reads them as they are.
 */
export type Person = { token: string; userId: string; quantity: number; place: number };

export const batchLine = {
  encode: (p: Person): string => `${p.token}\t${p.userId}\t${p.quantity}\t${p.place}`,
  /** Fields that are not numbers decode as NaN: only the rare paths decode, after screening. */
  decode(line: string): Person {
    const [token = "", userId = "", quantity, place] = line.split("\t");
    return { token, userId, quantity: Number(quantity), place: Number(place) };
  },
};

/** A line as join-3.lua writes it: a signed token, a user id, a quantity and a place. */
const WELL_FORMED = /^[A-Za-z0-9_-]{48}\t[^\x00-\x1f\x7f-\x9f]+\t[1-9][0-9]{0,5}\t[1-9][0-9]{0,17}$/;
/** What a malformed line becomes: no token, which the grant refuses alone as invalid. */
export const MALFORMED_LINE = "\t\t\t";

/**
 * A batch's lines with each one that is not well formed (a damaged record) replaced by
 * MALFORMED_LINE, so that PostgreSQL can trust the rest (no cast in the grant can fail) and
 * that person alone is refused. About 0.2 ms for 2000 lines, off the grant's critical path.
 */
export function screenLines(lines: string): string {
  if (lines === "") return lines;
  const all = lines.split("\n");
  let damaged = false;
  for (let i = 0; i < all.length; i++) {
    if (WELL_FORMED.test(all[i]!)) continue;
    all[i] = MALFORMED_LINE;
    damaged = true;
  }
  return damaged ? all.join("\n") : lines;
}

/** The place of the last line's person (0 when there is none, or it is not a number). */
export function lastPlaceOf(lines: string): number {
  if (lines === "") return 0;
  const place = Number(lines.slice(lines.lastIndexOf("\t") + 1));
  return Number.isSafeInteger(place) ? place : 0;
}

export function countLines(text: string): number {
  if (text === "") return 0;
  let count = 1;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) count++;
  return count;
}

/**
 * A settled batch's outcome, in batch:{T}:<batch id>: "<deadline ms>:<codes>:<id>,<id>,...",
 * one settle code per token in batch order (settle-4.lua writes it; resolveState.lua and the
 * cleaner's reconcile read it). The deadline is the batch's shared one; it is '' when nobody holds.
 */
export type BatchOutcome = { deadline: number | null; codes: string; ids: string[] };

export const batchOutcome = {
  encode: (o: BatchOutcome): string => `${o.deadline ?? ""}:${o.codes}:${o.ids.join(",")}`,
  decode(text: string): BatchOutcome {
    const [deadline = "", codes = "", ids = ""] = text.split(":");
    return { deadline: deadline === "" ? null : Number(deadline), codes, ids: ids === "" ? [] : ids.split(",") };
  },
  /** The ids of the tokens that hold (code R). */
  heldIds: (o: BatchOutcome): string[] => o.ids.filter((_, i) => o.codes[i] === SETTLE_CODES.reserved),
};

/** A batch in flight, a field of inflight:{T}: "<ms claimed>:<id>,<id>,..." (claim-3.lua writes; settle-4.lua and recovery read). */
export type InflightEntry = { claimedAt: number; ids: string[] };

export const inflightEntry = {
  encode: (e: InflightEntry): string => `${e.claimedAt}:${e.ids.join(",")}`,
  decode(text: string): InflightEntry {
    const colon = text.indexOf(":");
    return { claimedAt: Number(text.slice(0, colon)), ids: text.slice(colon + 1).split(",") };
  },
};

/**
 * claim-3.lua's answer: 'busy', 'empty', 'limited <ms>' (holds_per_minute allows nobody for
 * about that long), or "<queue epoch> <how many popped>" then the batch's lines.
 */
export type ClaimReply =
  | { kind: "busy" }
  | { kind: "empty" }
  | { kind: "limited"; retryInMs: number }
  | { kind: "claimed"; epoch: number; popped: number; size: number; lines: string };

export const claimReply = {
  encode(r: ClaimReply): string {
    if (r.kind === "limited") return `limited ${r.retryInMs}`;
    if (r.kind !== "claimed") return r.kind;
    return r.lines === "" ? `${r.epoch} ${r.popped}` : `${r.epoch} ${r.popped}\n${r.lines}`;
  },
  decode(reply: string): ClaimReply {
    if (reply === "busy" || reply === "empty") return { kind: reply };
    if (reply.startsWith("limited ")) return { kind: "limited", retryInMs: Number(reply.slice(8)) };
    const newline = reply.indexOf("\n");
    const [epoch, popped] = (newline < 0 ? reply : reply.slice(0, newline)).split(" ").map(Number);
    const lines = newline < 0 ? "" : reply.slice(newline + 1);
    return { kind: "claimed", epoch: epoch!, popped: popped!, size: countLines(lines), lines };
  },
};

/**
 * One join's line of join-3.lua's answer, tab-separated:
 * kind, id, state, place, served, quantity, expires_at, queue length.
 */
export type JoinReply =
  /** A new place; queueLength counts it (1: this join found the queue empty). */
  | { kind: "joined"; id: string; place: number; served: number; quantity: number; queueLength: number }
  /** The live place the user already had (place 0 while it waits for the sale). */
  | { kind: "existing"; id: string; state: TokenState; place: number; served: number; quantity: number; expiresAt: number | null }
  /** A new place in the pre-queue of a sale that has not started: waiting_for_sale, no place yet. */
  | { kind: "prequeued"; id: string; served: number; quantity: number }
  /** This quantity would pass the user's limit: `booked` is what they booked already. */
  | { kind: "limit"; booked: number }
  /** This join failed in the script (the others of the call stand). */
  | { kind: "error"; message: string };

const orNull = (text: string | undefined) => (text ? Number(text) : null);

export const joinReply = {
  encode(r: JoinReply): string {
    switch (r.kind) {
      case "joined":
        return ["joined", r.id, "queued", r.place, r.served, r.quantity, "", r.queueLength].join("\t");
      case "existing":
        return ["existing", r.id, r.state, r.place, r.served, r.quantity, r.expiresAt ?? "", 0].join("\t");
      case "prequeued":
        return ["prequeued", r.id, "waiting_for_sale", "", r.served, r.quantity, "", 0].join("\t");
      case "limit":
        return ["limit", "", "", "", "", r.booked, "", 0].join("\t");
      case "error":
        return `error\t${r.message}`;
    }
  },
  decode(line: string): JoinReply {
    const [kind, id = "", state, place, served, quantity, expiresAt, length] = line.split("\t");
    if (kind === "joined") {
      return { kind, id, place: Number(place), served: Number(served), quantity: Number(quantity), queueLength: Number(length) };
    }
    if (kind === "existing") {
      return {
        kind, id, state: storedState(state) ?? "queued", place: Number(place), served: Number(served),
        quantity: Number(quantity), expiresAt: orNull(expiresAt),
      };
    }
    if (kind === "prequeued") return { kind, id, served: Number(served), quantity: Number(quantity) };
    if (kind === "limit") return { kind, booked: Number(quantity) };
    return { kind: "error", message: line.slice("error\t".length) };
  },
};

/**
 * lookup-2.lua's answer, tab-separated: state (a pending token whose batch holds reads as
 * reserved), quantity, place, expires_at, booking_id, served, rate, booking_ref; '' where unknown.
 */
export type Lookup = {
  state: TokenState | null;
  quantity: number | null;
  place: number | null;
  expiresAt: number | null;
  bookingId: number | null;
  served: number;
  /** Grants per second lately, for estimated waits. */
  rate: number | null;
  /** A booking's public reference (finish-2.lua and cancel-2.lua write it with its id). */
  bookingRef: string | null;
};

export const lookupReply = {
  encode: (l: Lookup): string =>
    [l.state ?? "", l.quantity ?? "", l.place ?? "", l.expiresAt ?? "", l.bookingId ?? "", l.served, l.rate ?? "", l.bookingRef ?? ""].join("\t"),
  decode(reply: string): Lookup {
    const [state, quantity, place, expiresAt, bookingId, served, rate, bookingRef] = reply.split("\t");
    return {
      state: storedState(state), quantity: orNull(quantity), place: orNull(place), expiresAt: orNull(expiresAt),
      bookingId: orNull(bookingId), served: Number(served || 0), rate: orNull(rate), bookingRef: bookingRef || null,
    };
  },
};

/**
 * grant_holds()'s list of people refused whatever the stock: "<position>:<code>,..." (1-based
 * positions; codes I malformed, L over the user's limit, as settle-4.lua spells those states).
 */
export type Refusals = Map<number, "invalid" | "limit">;

const REFUSAL_CODES = { invalid: SETTLE_CODES.invalid, limit: SETTLE_CODES.limit_reached } as const;

export const refusedList = {
  encode: (r: Refusals): string | null =>
    r.size === 0 ? null : [...r].map(([position, why]) => `${position}:${REFUSAL_CODES[why]}`).join(","),
  decode(text: string | null): Refusals {
    const refused: Refusals = new Map();
    for (const entry of text ? text.split(",") : []) {
      const [position, code] = entry.split(":");
      refused.set(Number(position), code === REFUSAL_CODES.limit ? "limit" : "invalid");
    }
    return refused;
  },
};
