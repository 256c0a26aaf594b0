// The texts that cross between the Lua scripts, PostgreSQL and TypeScript. Whichever side
// writes a text owns its format and describes it beside the code that writes it; TypeScript
// reads each through the one parser here, which names that writer. The one text TypeScript
// writes, a batch's settle codes, is written here (decisionOf). test/formats.test.ts has the
// real writers (the scripts against real Redis, the SQL functions in a real database) write
// each text and these parsers read it.
import { SETTLE_CODES, storedState, type SettledState, type TokenState } from "../domain/states";

/**
 * One person of a batch: "<token>\t<user id>\t<quantity>\t<place>". Written by
 * lua/includes/enqueue.lua (the format's description is there), handed over by claim-3.lua.
 */
export type Person = { token: string; userId: string; quantity: number; place: number };

/** Fields that are not numbers read as NaN: only the rare paths read people, after screening. */
export function parseBatchLine(line: string): Person {
  const [token = "", userId = "", quantity, place] = line.split("\t");
  return { token, userId, quantity: Number(quantity), place: Number(place) };
}

/**
 * The well-formed-line rule, in a pair: this regular expression screens every batch in
 * TypeScript before PostgreSQL sees it (the fast grant trusts it), and batch_line_well_formed()
 * (sql/0010_batch_line_rule.sql), the same expression, is the careful grant's own check.
 * test/formats.test.ts holds both to the same answers on the same lines.
 */
export const WELL_FORMED_LINE = /^[A-Za-z0-9_-]{48}\t[^\x00-\x1f\x7f-\x9f]+\t[1-9][0-9]{0,5}\t[1-9][0-9]{0,17}$/;
/** What a malformed line becomes: no token, which the grant refuses alone as invalid (claim-3.lua blanks a damaged record's line the same way). */
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
    if (WELL_FORMED_LINE.test(all[i]!)) continue;
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
 * claim-3.lua's answer (described in its header): busy, empty, limited for about `retryInMs`,
 * or a batch: the queue's epoch, how many entries came off the queue, and a batch line per person.
 */
export type ClaimReply =
  | { kind: "busy" }
  | { kind: "empty" }
  | { kind: "limited"; retryInMs: number }
  | { kind: "claimed"; epoch: number; popped: number; size: number; lines: string };

export function parseClaimReply(reply: string): ClaimReply {
  if (reply === "busy" || reply === "empty") return { kind: reply };
  if (reply.startsWith("limited ")) return { kind: "limited", retryInMs: Number(reply.slice(8)) };
  const newline = reply.indexOf("\n");
  const [epoch, popped] = (newline < 0 ? reply : reply.slice(0, newline)).split(" ").map(Number);
  const lines = newline < 0 ? "" : reply.slice(newline + 1);
  return { kind: "claimed", epoch: epoch!, popped: popped!, size: countLines(lines), lines };
}

/** A batch in flight, a field of inflight:{T} (claim-3.lua writes it; its header describes it). */
export type InflightEntry = { claimedAt: number; ids: string[] };

export function parseInflightEntry(text: string): InflightEntry {
  const colon = text.indexOf(":");
  return { claimedAt: Number(text.slice(0, colon)), ids: text.slice(colon + 1).split(",") };
}

/**
 * What TypeScript tells settle-4.lua about a batch: one settle code per person in batch order
 * (SETTLE_CODES in src/domain/states.ts spells each state; settle-4.lua's FINAL table reads
 * them back, test/states.test.ts checks it), the batch's one hold deadline (null: nobody
 * holds) and the exceptions, flat pairs of 1-based position and a hold's own deadline in ms
 * (recovered holds). settle-4.lua keeps the codes in the batch's outcome (parseBatchOutcome).
 */
export type Decision = { codes: string; deadline: number | null; overrides: number[] };

/** What one person of a batch gets, in batch order. */
export type Outcome = { state: SettledState; expiresAt?: number };

/** Everyone in a batch of `size` holds until `deadline`: the common case, with no work per person. */
export const allReserved = (size: number, deadline: number): Decision => ({
  codes: SETTLE_CODES.reserved.repeat(size), deadline, overrides: [],
});

/** Everyone in a batch of `size` goes back to the head of the queue, in order. */
export const allQueued = (size: number): Decision => ({ codes: SETTLE_CODES.queued.repeat(size), deadline: null, overrides: [] });

export function decisionOf(outcomes: Outcome[]): Decision {
  const deadline = outcomes.find((o) => o.state === "reserved")?.expiresAt ?? null;
  return {
    codes: outcomes.map((o) => SETTLE_CODES[o.state]).join(""),
    deadline,
    // recovered holds may each have their own deadline
    overrides: outcomes.flatMap((o, i) => (o.state === "reserved" && o.expiresAt !== deadline ? [i + 1, o.expiresAt!] : [])),
  };
}

/**
 * A settled batch's outcome, in batch:{T}:<batch id> (settle-4.lua writes it; its header
 * describes it): the shared deadline (null when nobody holds), the settle codes, the ids.
 */
export type BatchOutcome = { deadline: number | null; codes: string; ids: string[] };

export function parseBatchOutcome(text: string): BatchOutcome {
  const [deadline = "", codes = "", ids = ""] = text.split(":");
  return { deadline: deadline === "" ? null : Number(deadline), codes, ids: ids === "" ? [] : ids.split(",") };
}

/** The ids of the tokens that hold (code reserved). */
export const heldIds = (o: BatchOutcome): string[] => o.ids.filter((_, i) => o.codes[i] === SETTLE_CODES.reserved);

/** What join-3.lua answered for one join (its header describes the fields of each kind). */
export type JoinReply =
  /** A new place; foundEmpty: the queue was empty before this join (one join of a call at most). */
  | { kind: "joined"; id: string; place: number; served: number; quantity: number; foundEmpty: boolean }
  /** The live place the user already had (place 0 while it waits for the sale). */
  | { kind: "existing"; id: string; state: TokenState; place: number; served: number; quantity: number; expiresAt: number | null }
  /** A new place in the pre-queue of a sale that has not started: waiting_for_sale, no place yet. */
  | { kind: "prequeued"; id: string; served: number; quantity: number }
  /** This quantity would pass the user's limit: `booked` is what they booked already. */
  | { kind: "limit"; booked: number }
  /** This join failed in the script (the others of the call stand). */
  | { kind: "error"; message: string };

const orNull = (text: string | undefined) => (text ? Number(text) : null);

/**
 * join-3.lua's answer: the served mark, then a line per join of `sent`, in order. A joined or
 * pre-queued line names neither token id nor quantity: they are the join's own, as sent.
 */
export function parseJoinReplies(reply: string, sent: readonly { id: string; quantity: number }[]): JoinReply[] {
  const lines = reply.split("\n");
  if (lines.length !== sent.length + 1) throw new Error(`join-3.lua answered ${lines.length - 1} lines for ${sent.length} joins`);
  const served = Number(lines[0]);
  return sent.map(({ id, quantity }, i) => parseJoinLine(lines[i + 1]!, id, quantity, served));
}

function parseJoinLine(line: string, id: string, quantity: number, served: number): JoinReply {
  const fields = line.split("\t");
  const kind = fields[0];
  if (kind === "joined") return { kind, id, place: Number(fields[1]), served, quantity, foundEmpty: fields[2] === "1" };
  if (kind === "existing") {
    const [, existing = "", state, place, held, expiresAt] = fields;
    return {
      kind, id: existing, state: storedState(state) ?? "queued", place: Number(place), served, quantity: Number(held), expiresAt: orNull(expiresAt),
    };
  }
  if (kind === "prequeued") return { kind, id, served, quantity };
  if (kind === "limit") return { kind, booked: Number(fields[1]) };
  return { kind: "error", message: line.slice("error\t".length) };
}

/** lookup-2.lua's answer (its header describes the fields); null where unknown. */
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

export function parseLookup(reply: string): Lookup {
  const [state, quantity, place, expiresAt, bookingId, served, rate, bookingRef] = reply.split("\t");
  return {
    state: storedState(state), quantity: orNull(quantity), place: orNull(place), expiresAt: orNull(expiresAt),
    bookingId: orNull(bookingId), served: Number(served || 0), rate: orNull(rate), bookingRef: bookingRef || null,
  };
}

/** Someone the grant refuses whatever the stock, by the state settle gives them. */
export type Refused = Extract<SettledState, "duplicate" | "invalid" | "limit_reached">;
/** What the grant did with one person: a hold, a hold they had (a retry, a recovery), none for want of stock or for a closed sale, or a refusal. */
export type GrantOutcome = "granted" | "prior" | "waiting" | "closed" | Refused;

/**
 * grant_holds_carefully's outcome per person (sql/0004_grant_checks.sql, at the function,
 * lists them) in the words of src/domain/states.ts: the one table between the two. SQL says
 * 'limit' for limit_reached; every other word is the same.
 */
const GRANT_OUTCOMES: Record<string, GrantOutcome> = {
  granted: "granted", prior: "prior", waiting: "waiting", closed: "closed",
  duplicate: "duplicate", invalid: "invalid", limit: "limit_reached",
};

export function parseGrantOutcome(word: string): GrantOutcome {
  const outcome = GRANT_OUTCOMES[word];
  if (outcome === undefined) throw new Error(`grant_holds_carefully answered an unknown outcome ${JSON.stringify(word)}`);
  return outcome;
}

/** The people grant_holds refused, by 1-based position in the batch. */
export type Refusals = Map<number, Extract<Refused, "invalid" | "limit_reached">>;

/**
 * grant_holds's `refused` (sql/0004_grant_checks.sql, at the function, describes it):
 * "<position>:<code>,...", each code the settle code of the state (SETTLE_CODES), I or L; null for nobody.
 */
export function parseRefused(text: string | null): Refusals {
  const refused: Refusals = new Map();
  for (const entry of text ? text.split(",") : []) {
    const [position, code] = entry.split(":");
    refused.set(Number(position), code === SETTLE_CODES.limit_reached ? "limit_reached" : "invalid");
  }
  return refused;
}
