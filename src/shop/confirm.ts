// POST /shop/holds/:token/confirm: the shop books a hold after taking payment, safe to retry.
//
// The Idempotency-Key's answer is written in the booking's own transaction: a booking never
// exists without the answer that told of it, and a retry with the key (after a timeout, from
// any instance) gets that answer again, with Idempotent-Replayed: true. Requests with one key
// serialize on an advisory lock of the key taken first in the transaction; only the first of
// them books, the others read its answer. A refusal is not kept: nothing was done, and a retry
// is told what is true then. The same key with another request is 422 idempotency_key_reused.
import { crashPoint } from "../core/crash-points";
import { during, fail, failWith } from "../core/errors";
import { bookHold, type BookedRow } from "../reservations/confirm";
import { finishQuietly, type HoldDeps } from "../reservations/finish";
import { findHold } from "../holds/find-hold";
import { redisState, refusal } from "../reservations/without-hold";
import { CONFIRM_REFUSALS } from "../domain/states";
import type { TokenParts } from "../domain/tokens";
import type { Sql } from "../store/db";
import type { ShopBooking } from "../api/schemas";

/** The namespace of the idempotency keys' advisory locks (its first key; any fixed number). */
const IDEMPOTENCY_LOCKS = 20_001;

export type ShopConfirmation = { status: number; body: ShopBooking; replayed: boolean };

export const MAX_IDEMPOTENCY_KEY = 255;

/** The Idempotency-Key header, checked: 400 when missing or too long. */
export function idempotencyKeyOf(header: string | null): string {
  if (header === null || header === "") {
    throw fail("idempotency_key_required");
  }
  if (header.length > MAX_IDEMPOTENCY_KEY) throw fail("invalid_input", `Idempotency-Key: expected 1 to ${MAX_IDEMPOTENCY_KEY} characters`);
  return header;
}

const requestHash = (token: string, orderRef: string, amount: number | null) =>
  new Bun.CryptoHasher("sha256").update(JSON.stringify([token, orderRef, amount])).digest("hex");

export async function shopConfirm(
  s: HoldDeps, parts: TokenParts, token: string, key: string, orderRef: string, amount: number | null,
): Promise<ShopConfirmation> {
  const hash = requestHash(token, orderRef, amount);
  const result = await during("PostgreSQL", () => s.sql.begin(async (tx) => {
    // two keys (a namespace, the key's hash): apart from the one-key locks (migrations, demo)
    await tx`SELECT pg_advisory_xact_lock(${IDEMPOTENCY_LOCKS}::int, hashtext(${key}))`;
    const [seen] = await tx<{ request_hash: string; response_status: number; response_body: ShopBooking }[]>`
      SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE key = ${key}`;
    if (seen) {
      if (seen.request_hash !== hash) {
        throw fail("idempotency_key_reused");
      }
      return { status: seen.response_status, body: seen.response_body, replayed: true };
    }
    const order = { orderRef, amount };
    const booked = (await bookHold(tx as unknown as Sql, token, order)) ?? (await whyNotBooked(s, tx as unknown as Sql, parts, token, order));
    const body = bookingAnswer(booked, token, parts.ticketTypeId);
    await tx`
      INSERT INTO idempotency_keys (key, request_hash, response_status, response_body)
      VALUES (${key}, ${hash}, 201, ${tx.json(body)})`;
    return { status: 201, body, replayed: false };
  }));
  if (!result.replayed) {
    s.metrics.confirmations.inc(parts.ticketTypeId);
    crashPoint("confirm:booked"); // the booking and its answer committed; the answer lost, Redis not told
    s.log.info("booked", { ticket_type_id: parts.ticketTypeId, booking_id: result.body.booking_id, quantity: result.body.quantity, by: "shop" });
  }
  // a replay too: the first answer may have been lost (a timeout) before Redis heard; finish-2.lua
  // counts a booking once, and leaves one cancelled since as it is
  await finishQuietly(s, [{
    token, ticketTypeId: parts.ticketTypeId, state: "confirmed", bookingId: result.body.booking_id, bookingRef: result.body.booking_ref,
  }]);
  return result;
}

const bookingAnswer = (b: BookedRow, token: string, ticketTypeId: number): ShopBooking => ({
  booking_id: Number(b.id),
  booking_ref: b.booking_ref,
  order_ref: b.order_ref!,
  queue_token: token,
  ticket_type_id: ticketTypeId,
  quantity: b.quantity,
  amount: b.amount,
  currency: b.currency,
  confirmed_at: b.created_at.toISOString(),
});

/**
 * Nothing was booked: why, as an error. Booked already (by the buyer, or under another key):
 * 409 already_confirmed with its booking_id; cancelled since: 409 booking_cancelled. A live
 * hold whose price is not `amount`: 409 amount_mismatch. Any other state answers as the
 * buyer's confirm does (src/domain/states.ts).
 */
async function whyNotBooked(
  s: HoldDeps, sql: Sql, parts: TokenParts, token: string, order: { orderRef: string; amount: number | null },
): Promise<BookedRow> {
  const amount = order.amount;
  const hold = await findHold(sql, token);
  if (hold?.status === "confirmed" && hold.booking_status === "cancelled") throw refusal(CONFIRM_REFUSALS, "cancelled");
  if (hold?.status === "confirmed") {
    throw failWith({ fields: { booking_id: Number(hold.booking_id) } }, "already_confirmed");
  }
  if (hold?.status === "released") throw refusal(CONFIRM_REFUSALS, "released");
  if (hold?.status === "held" && !hold.lapsed) {
    const [price] = await sql<{ expected: number }[]>`
      SELECT (t.price * r.quantity)::float8 AS expected FROM reservations r JOIN ticket_types t ON t.id = r.ticket_type_id
      WHERE r.token = ${token} AND (${amount}::numeric IS NOT NULL AND t.price * r.quantity <> ${amount}::numeric)`;
    if (price) throw fail("amount_mismatch", price.expected);
    // a live hold the update did not see: its grant committed in between. Once more, then it is.
    const again = await bookHold(sql, token, order);
    if (again) return again;
    throw refusal(CONFIRM_REFUSALS, "pending");
  }
  if (hold) throw refusal(CONFIRM_REFUSALS, "expired"); // expired, or held past its deadline
  throw refusal(CONFIRM_REFUSALS, await redisState(s, parts));
}
