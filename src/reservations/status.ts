// Status of a token in O(1): one Redis step, PostgreSQL only when Redis cannot tell. The words
// and their messages are src/domain/states.ts's.
import { outageOf, Unavailable } from "../core/errors";
import type { FieldsOf, StatusAnswer, TicketType } from "../api/schemas";
import type { Lookup } from "../store/formats";
import type { Config } from "../config/config";
import type { Sql } from "../store/db";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Catalog } from "../events/catalog";
import type { CheckoutHandOff } from "../checkout/hand-off";
import { apiStatus, heldTicketsMessage, postponedMessage, SHOP_RESERVED_MESSAGE, STATUS_MESSAGES, type ApiStatus } from "../domain/states";
import type { TokenParts, Tokens } from "../domain/tokens";
import type { HeldReading, HeldTickets } from "./held-tickets";
import { findHold, type HoldRow } from "../holds/find-hold";

/** What a status answer reads: Redis first, PostgreSQL for a hold, the catalog, the hand-off to checkout. */
export type StatusDeps = {
  config: Config;
  redis: RedisClient;
  keys: KeysOf;
  sql: Sql;
  tokens: Tokens;
  catalog: Catalog;
  heldTickets: HeldTickets;
  checkout: CheckoutHandOff | null;
};

export async function reservationStatus(s: StatusDeps, parts: TokenParts, token: string): Promise<StatusAnswer> {
  const { ticketTypeId, id } = parts;
  let found: Lookup;
  try {
    found = await s.redis.scripts.lookup({ keys: s.keys(ticketTypeId), id });
  } catch (err) {
    if (!outageOf(err)) throw err;
    // Redis is down: a hold is still known to PostgreSQL; a queue place is not.
    return withPayment(s, token, await fromPostgres(s, ticketTypeId, token, true));
  }
  return statusFrom(s, ticketTypeId, token, found);
}

/** The answer for what lookup-2.lua found (live streams look many tokens up in one round trip). */
export async function statusFrom(s: StatusDeps, ticketTypeId: number, token: string, found: Lookup): Promise<StatusAnswer> {
  return withPayment(s, token, await answerFrom(s, ticketTypeId, token, found));
}

/** A hold says who confirms it and, with a shop's checkout, where to pay. */
async function withPayment(s: StatusDeps, token: string, answer: StatusAnswer): Promise<StatusAnswer> {
  if (answer.status !== "reserved") return answer;
  const { message, ...rest } = answer;
  if (s.config.CONFIRM_BY === "buyer") return { ...rest, confirm_by: "buyer", message };
  const url = await s.checkout?.urlFor(token, answer.expires_at!);
  return { ...rest, confirm_by: "shop", ...(url && { checkout_url: url }), message: SHOP_RESERVED_MESSAGE };
}

async function answerFrom(s: StatusDeps, ticketTypeId: number, token: string, found: Lookup): Promise<StatusAnswer> {
  const answer = (status: ApiStatus, extra: StatusFields = {}) => statusAnswer(status, ticketTypeId, found.quantity ?? 0, extra);

  const state = found.state;
  switch (state) {
    case null:
    case "lost":
      return fromPostgres(s, ticketTypeId, token);
    case "queued":
    case "pending": {
      const place = placeInQueue(found.place ?? 0, found.served, found.rate ?? 0);
      const type = await typeSoon(s, ticketTypeId);
      const saleStartsAt = type?.sale_starts_at ? Date.parse(type.sale_starts_at) : null;
      if (saleStartsAt !== null && saleStartsAt > Date.now()) {
        // the operator moved the start into the future: the place waits for it (no grant before)
        const moved = answer("queued", { position: place.position, sale_starts_at: type!.sale_starts_at! });
        return { ...moved, message: postponedMessage(saleStartsAt, place.position) };
      }
      if (type?.paused) return answer("paused", { position: place.position });
      const nextRelease = await nextReleaseAt(s, ticketTypeId);
      if (nextRelease !== null) {
        // no stock, holds out: the wait is theirs to end, not the old serving rate's to guess
        const waiting = answer("queued", {
          position: place.position, waiting_for_held_tickets: true, next_release_at: new Date(nextRelease).toISOString(),
        });
        return { ...waiting, message: heldTicketsMessage(nextRelease) };
      }
      return answer(apiStatus(state), place);
    }
    case "reserved":
      if ((found.expiresAt ?? 0) > Date.now()) {
        return answer("reserved", { expires_at: new Date(found.expiresAt!).toISOString() });
      }
      return fromPostgres(s, ticketTypeId, token); // past its deadline: PostgreSQL knows how it ended
    case "confirmed":
    case "cancelled":
      // a record written before references were kept in Redis: PostgreSQL has it
      if (found.bookingId === null || found.bookingRef === null) return fromPostgres(s, ticketTypeId, token);
      return answer(state, { booking_id: found.bookingId, booking_ref: found.bookingRef });
    case "waiting_for_sale":
      // no position: the places are drawn at the start
      return answer(state, { sale_starts_at: (await s.catalog.ticketType(ticketTypeId))?.sale_starts_at ?? null });
    default:
      return answer(state);
  }
}

/**
 * The type as the catalog reads it (at most a second old, or the last reading while PostgreSQL
 * is away): whether it is paused or its sale was moved. With no reading at all, a place reads as queued.
 */
async function typeSoon(s: StatusDeps, ticketTypeId: number): Promise<TicketType | undefined> {
  try {
    return await s.catalog.ticketTypeSoon(ticketTypeId);
  } catch (err) {
    if (!outageOf(err)) throw err;
    return undefined;
  }
}

/**
 * When a type with no stock may have its next held ticket back (ms; a lapsed hold's is now, the
 * cleaner returns it within a second), or null while it has stock or no hold is out (then
 * settle tells sold_out). PostgreSQL away with no reading: null, and the usual estimate.
 */
async function nextReleaseAt(s: StatusDeps, ticketTypeId: number): Promise<number | null> {
  const held = await s.heldTickets.soon(ticketTypeId);
  return held && heldOut(held) ? Math.max(held.nextDeadline!, Date.now()) : null;
}

/** No stock, and holds out: a queued place waits for one of them to end. */
export const heldOut = (held: HeldReading) => held.stock === 0 && held.nextDeadline !== null;

/**
 * A queued place's position and estimated wait, from its place and the type's served mark and
 * grant rate (live streams compute theirs with it too, from one read of the mark per tick).
 */
export function placeInQueue(place: number, served: number, perSecond: number): { position: number; estimated_wait_seconds?: number } {
  const position = Math.max(1, place - served);
  return { position, ...(perSecond > 0 && { estimated_wait_seconds: Math.ceil(position / perSecond) }) };
}

async function fromPostgres(
  s: StatusDeps, ticketTypeId: number, token: string, redisDown = false,
): Promise<StatusAnswer> {
  const hold = await findHold(s.sql, token);
  if (hold) return holdAnswer(ticketTypeId, hold);
  if (redisDown) throw new Unavailable("Redis");
  const type = await s.catalog.ticketType(ticketTypeId);
  const status: ApiStatus = type?.status === "sold_out" ? "sold_out" : "lost";
  return { status, ticket_type_id: ticketTypeId, message: STATUS_MESSAGES[status] };
}

type StatusFields = FieldsOf<StatusAnswer>;

/**
 * One answer's shape, whether Redis or PostgreSQL knew it: a live stream compares answers as text.
 * The schema pairs each status with its fields, which TypeScript cannot follow through `extra`;
 * test/openapi.test.ts checks real answers against it.
 */
function statusAnswer(status: ApiStatus, ticketTypeId: number, quantity: number, extra: StatusFields): StatusAnswer {
  return { status, ticket_type_id: ticketTypeId, quantity, ...extra, message: STATUS_MESSAGES[status] } as StatusAnswer;
}

export function holdAnswer(ticketTypeId: number, hold: HoldRow): StatusAnswer {
  const answer = (status: ApiStatus, extra: StatusFields = {}) => statusAnswer(status, ticketTypeId, hold.quantity, extra);
  if (hold.status === "held" && !hold.lapsed) return answer("reserved", { expires_at: hold.expires_at.toISOString() });
  if (hold.status === "confirmed") {
    // the hold stays confirmed when its booking is cancelled; the booking says which
    const booking = { booking_id: Number(hold.booking_id), booking_ref: hold.booking_ref! };
    return answer(hold.booking_status === "cancelled" ? "cancelled" : "confirmed", booking);
  }
  return answer(hold.status === "released" ? "released" : "expired");
}
