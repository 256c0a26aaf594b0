// A token's life: the one list of its states, and how each state shows in the API (the status
// answer, and what confirm and release answer).
// Every path speaks these words: the Redis record's `state` field (written by the Lua scripts
// join-3, claim-3, settle-4, finish-2, leave-1, cancel-2), the settle codes, PostgreSQL's
// reservations.status (held, confirmed, expired, released) and the answers. test/states.test.ts
// checks the Lua scripts, and the moves between states, against this module. docs/ARCHITECTURE.md
// draws the diagram and says who moves a token.

export const TOKEN_STATES = [
  "waiting_for_sale", // in the pre-queue of a sale that has not started (join-3.lua); no place yet
  "queued", //        in the queue, waiting for its turn (record state; join-3.lua writes it)
  "pending", //       being served: claimed in a batch, the grant not yet settled (claim-3.lua)
  "reserved", //      holds tickets until its deadline. Never written to a record: the record
  //                  stays 'pending' and points at its batch's outcome, where the code is R
  //                  (settle-4.lua writes it once per batch; resolveState.lua reads it)
  "confirmed", //     booked (finish-2.lua after PostgreSQL's confirm)
  "cancelled", //     its booking was cancelled since (a refund, a chargeback); the tickets went back
  //                  (cancel-2.lua after PostgreSQL's cancel). PostgreSQL keeps the hold
  //                  'confirmed' and the booking 'cancelled' (src/store/invariants.ts says why)
  "expired", //       the hold lapsed unconfirmed; its tickets went back (the cleaner)
  "released", //      given back: a hold (its tickets return at once) or a queue place (leave-1.lua)
  "sold_out", //      nothing left that could ever serve it (settle)
  "duplicate", //     its user already holds this type under another token (settle)
  "invalid", //       its record was damaged; refused alone (settle)
  "limit_reached", // serving it would pass its user's per_user_limit (settle)
  "lost", //          Redis lost its record before it held anything: join again (status only)
] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

/** A place that still counts as the user's one place (I4): a rejoin finds it. */
export const LIVE_STATES: readonly TokenState[] = ["waiting_for_sale", "queued", "pending", "reserved"];

/** What a batch's settle may decide for one person: everything but the transient and the unknowable. */
export type SettledState = Exclude<TokenState, "waiting_for_sale" | "pending" | "lost" | "cancelled">;

/**
 * settle-4.lua's one-character code per person of a batch; the batch outcome
 * ("<deadline>:<codes>:<ids>") keeps them, and readers take 'R' to mean reserved.
 */
export const SETTLE_CODES: Record<SettledState, string> = {
  reserved: "R", queued: "Q", sold_out: "S", duplicate: "D", invalid: "I", limit_reached: "L",
  confirmed: "C", expired: "E", released: "X",
};

/** PostgreSQL's reservations.status (its CHECK constraint, sql/0001), and the state each is. */
export type HoldStatus = "held" | "confirmed" | "expired" | "released";
export const HOLD_STATES = { held: "reserved", confirmed: "confirmed", expired: "expired", released: "released" } as const satisfies Record<HoldStatus, SettledState>;

/**
 * What a client is told a state is: pending reads as queued (it lasts milliseconds), and a
 * queued place of a ticket type the operator paused reads as paused (the place is kept; the
 * record does not change, so `paused` is an answer, never a stored state).
 */
export type ApiStatus = Exclude<TokenState, "pending"> | "paused";
export const apiStatus = (state: TokenState): ApiStatus => (state === "pending" ? "queued" : state);

/** The status answer's message for each state a client can see. */
export const STATUS_MESSAGES: Record<ApiStatus, string> = {
  waiting_for_sale: "The sale has not started; at sale_starts_at everyone waiting gets a place in a random order.",
  paused: "The sale is paused; you keep your place in the queue and it moves again when the sale resumes.",
  queued: "You are in the queue; keep this token and check back.",
  reserved: "Tickets are held for you; confirm them before expires_at.",
  confirmed: "Your booking is confirmed.",
  cancelled: "Your booking was cancelled; its tickets went back on sale.",
  expired: "Your hold expired before it was confirmed; the tickets went back on sale.",
  released: "You gave this place or hold back.",
  sold_out: "Sold out: there are no tickets left for you.",
  duplicate: "You already hold tickets of this type with another token; use that one.",
  invalid: "Your place could not be served: its request was damaged. Join the queue again.",
  limit_reached: "You already booked as many tickets of this type as one person may.",
  lost: "Your place in the queue was lost; join the queue again.",
};

/** reserved with CONFIRM_BY=shop: the shop books the tickets once they are paid for. */
export const SHOP_RESERVED_MESSAGE = "Tickets are held for you; pay for them at the shop before expires_at.";

const iso = (ms: number) => new Date(ms).toISOString();

/** A queued place whose type's sale start was moved into the future (its place is kept). */
export const postponedMessage = (saleStartsAt: number, position: number) =>
  `The sale was moved to ${iso(saleStartsAt).slice(0, 16).replace("T", " ")} UTC; you keep your place (number ${position}) and are served after it starts.`;

/**
 * A queued place while every ticket is held by people ahead: their deadlines, not a rate, say
 * when. A hold ends within its TTL, so the time of day says it.
 */
export const heldTicketsMessage = (nextReleaseAt: number) =>
  `All tickets are held by people ahead of you; the next may come back by ${iso(nextReleaseAt).slice(11, 19)} UTC.`;

/** How confirm or release refuses a token in a state where it cannot act. */
export type Refusal = { status: number; code: string; message: string; retryAfter?: boolean };

const BOOKING_CANCELLED: Refusal = {
  status: 409, code: "booking_cancelled", message: "this booking was cancelled; its tickets went back on sale",
};

const TURN_BEING_SERVED: Refusal = {
  status: 409, code: "in_progress", message: "your turn is being served right now; try again in a moment", retryAfter: true,
};

/**
 * Confirm's answer for each state but reserved (PostgreSQL decides that one) and confirmed
 * (idempotent: the same booking again).
 */
export const CONFIRM_REFUSALS: Record<Exclude<TokenState, "reserved" | "confirmed">, Refusal> = {
  waiting_for_sale: { status: 409, code: "not_reserved", message: "nothing to confirm yet: the sale has not started" },
  queued: { status: 409, code: "not_reserved", message: "nothing to confirm yet: you are still in the queue" },
  pending: TURN_BEING_SERVED,
  expired: { status: 410, code: "hold_expired", message: "this hold expired before it was confirmed; join the queue again" },
  released: { status: 409, code: "released", message: "this place or hold was given back and cannot be confirmed" },
  cancelled: BOOKING_CANCELLED,
  sold_out: { status: 409, code: "sold_out", message: "sold out: no tickets were held for this token" },
  duplicate: { status: 409, code: "duplicate", message: "you already hold tickets of this type with another token" },
  invalid: { status: 409, code: "invalid", message: "this place could not be served (its request was damaged); join the queue again" },
  limit_reached: { status: 409, code: "limit_reached", message: "you already booked as many tickets of this type as one person may" },
  lost: { status: 410, code: "place_lost", message: "this token's place in the queue was lost; join the queue again" },
};

/**
 * Release's answer for each state where nothing can be given back. Reserved, queued and
 * waiting_for_sale are released (PostgreSQL, or leave-1.lua); released again answers released (idempotent).
 */
export const RELEASE_REFUSALS: Record<Exclude<TokenState, "waiting_for_sale" | "reserved" | "queued" | "released">, Refusal> = {
  pending: CONFIRM_REFUSALS.pending,
  confirmed: { status: 409, code: "already_confirmed", message: "a confirmed booking cannot be released here" },
  cancelled: BOOKING_CANCELLED,
  expired: { status: 410, code: "hold_expired", message: "this hold already expired; its tickets are back on sale" },
  sold_out: CONFIRM_REFUSALS.sold_out,
  duplicate: CONFIRM_REFUSALS.duplicate,
  invalid: CONFIRM_REFUSALS.invalid,
  limit_reached: CONFIRM_REFUSALS.limit_reached,
  lost: CONFIRM_REFUSALS.lost,
};

/**
 * Release's answer for a hold the shop is taking the payment for (it extended the hold): the
 * buyer may not give it back meanwhile, or the shop would charge for tickets nobody holds.
 */
export const PAYMENT_IN_PROGRESS: Refusal = {
  status: 409, code: "payment_in_progress",
  message: "the shop is taking the payment for this hold, so it cannot be released; unpaid, it lapses at expires_at",
};

/** A record's state as Redis stores it, or null for none or a word this module does not know. */
export function storedState(raw: string | null | undefined): TokenState | null {
  return raw && (TOKEN_STATES as readonly string[]).includes(raw) ? (raw as TokenState) : null;
}
