// Confirm: PostgreSQL decides with one conditional statement that also writes the booking;
// Redis follows. A repeat returns the same booking. Every other state answers as
// src/domain/states.ts says (CONFIRM_REFUSALS).
import { crashPoint } from "../core/crash-points";
import { during } from "../core/errors";
import type { Sql } from "../store/db";
import { CONFIRM_REFUSALS } from "../domain/states";
import type { TokenParts } from "../domain/tokens";
import { finishQuietly, type HoldDeps } from "./finish";
import { findHold } from "../holds/find-hold";
import { redisState, refusal } from "./without-hold";
import type { Confirmation } from "../api/schemas";

/** A booking as the statement that made it returns it. */
export type BookedRow = {
  id: number; booking_ref: string; quantity: number; amount: number; currency: string; order_ref: string | null; created_at: Date;
};

/**
 * Books a live hold, in one conditional statement: the hold becomes confirmed and the booking
 * is written with its price (the type's price x quantity) and its event's currency. The shop
 * passes its order reference, and the amount it charged: a different amount books nothing.
 * Undefined when nothing was booked.
 */
export async function bookHold(
  sql: Sql, token: string, shop: { orderRef: string; amount: number | null } | null = null,
): Promise<BookedRow | undefined> {
  const [booked] = await sql<BookedRow[]>`
    WITH confirmed AS (
      UPDATE reservations r SET status = 'confirmed', ended_at = now()
      FROM ticket_types t JOIN events e ON e.id = t.event_id
      WHERE r.token = ${token} AND r.status = 'held' AND r.expires_at > clock_timestamp() AND t.id = r.ticket_type_id
        AND (${shop?.amount ?? null}::numeric IS NULL OR t.price * r.quantity = ${shop?.amount ?? null}::numeric)
      RETURNING r.token, r.user_id, r.ticket_type_id, r.quantity, t.price * r.quantity AS amount, e.currency
    )
    INSERT INTO bookings (token, user_id, ticket_type_id, quantity, amount, currency, order_ref)
    SELECT token, user_id, ticket_type_id, quantity, amount, currency, ${shop?.orderRef ?? null} FROM confirmed
    RETURNING id, booking_ref, quantity, amount::float8 AS amount, currency, order_ref, created_at`;
  return booked;
}

export async function confirmHold(s: HoldDeps, parts: TokenParts, token: string, retried = false): Promise<Confirmation> {
  const booked = await during("PostgreSQL", () => bookHold(s.sql, token));
  const answer = (b: Pick<BookedRow, "id" | "booking_ref" | "quantity" | "created_at"> & { amount: number | null; currency: string | null }): Confirmation => ({
    status: "confirmed",
    booking_id: Number(b.id),
    booking_ref: b.booking_ref,
    queue_token: token,
    ticket_type_id: parts.ticketTypeId,
    quantity: b.quantity,
    amount: b.amount,
    currency: b.currency,
    confirmed_at: b.created_at.toISOString(),
  });

  if (booked) {
    s.metrics.confirmations.inc(parts.ticketTypeId);
    crashPoint("confirm:booked");
    // No token or user id in the log: a user id may be an e-mail address.
    s.log.info("booked", { ticket_type_id: parts.ticketTypeId, booking_id: Number(booked.id), quantity: booked.quantity });
    await finishQuietly(s, [{ token, ticketTypeId: parts.ticketTypeId, state: "confirmed", bookingId: booked.id, bookingRef: booked.booking_ref }]);
    return answer(booked);
  }

  const hold = await findHold(s.sql, token);
  if (hold?.status === "confirmed" && hold.booking_status === "cancelled") throw refusal(CONFIRM_REFUSALS, "cancelled");
  if (hold?.status === "confirmed") {
    return answer({ id: hold.booking_id!, booking_ref: hold.booking_ref!, quantity: hold.quantity, created_at: hold.confirmed_at!, amount: hold.amount, currency: hold.currency });
  }
  if (hold?.status === "released") throw refusal(CONFIRM_REFUSALS, "released");
  // A live hold the update did not see: its grant committed in between. Once more, then it is.
  if (hold?.status === "held" && !hold.lapsed && !retried) return confirmHold(s, parts, token, true);
  if (hold) throw refusal(CONFIRM_REFUSALS, "expired"); // expired, or held past its deadline
  throw refusal(CONFIRM_REFUSALS, await redisState(s, parts));
}
