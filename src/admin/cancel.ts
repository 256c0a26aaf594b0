// Cancelling a booking (a refund, a chargeback, a mistake): POST /shop/bookings/:id/cancel and
// POST /admin/bookings/:id/cancel. The booking becomes cancelled and its tickets go back on sale
// exactly once: one conditional UPDATE (status = 'confirmed') in a transaction that adds the
// stock back under the ticket type's row lock, taken first as the grant takes it. The hold
// stays 'confirmed' (src/store/invariants.ts says why); its token reads 'cancelled'. People waiting
// are served them: the processor retries a blocked type when its stock moves. The person's
// per-user tally goes down: PostgreSQL's grant counts confirmed bookings only; Redis's
// bought:{T}, which joins check, is decremented once (cancel-2.lua says when). Redis follows in
// one script: the token's record, the tally, and a notice to live streams. Cancelling again
// answers the same booking, and tells Redis again (a first cancel may have missed it). Both
// the operator's and the shop's cancels are kept in the audit log, each with its actor.
import { logChange, recordChange, type AuditContext } from "./audit";
import type { Sql } from "../store/db";
import { during, fail } from "../core/errors";
import type { Logger } from "../core/log";
import type { KeysOf, RedisClient } from "../store/redis";
import { tokenIdOf } from "../domain/tokens";
import type { CancelledBooking } from "../api/schemas";
import { Type as t } from "@sinclair/typebox";
import { LINES } from "./events";

/** The body of a cancel, the shop's or the operator's (both routes take it). */
export const CancelBody = t.Object(
  { reason: t.Optional(t.String({ maxLength: 500, pattern: LINES, description: "expected a text of at most 500 characters, without control characters but line breaks and tabs" })) },
  { additionalProperties: false, description: "expected a JSON object {reason?} and nothing else" },
);
export const BookingParams = t.Object({ id: t.String({ description: "expected a booking id" }) }, { description: "expected a booking id" });

type Row = Omit<CancelledBooking, "confirmed_at" | "cancelled_at"> & { user_id: string; token: string; confirmed_at: Date; cancelled_at: Date };

const COLUMNS = `id AS booking_id, booking_ref, order_ref, status, ticket_type_id, quantity, amount::float8 AS amount, currency,
  created_at AS confirmed_at, cancelled_at, cancel_reason, user_id, token`;

export const unknownBooking = () => fail("unknown_booking");

/** `id` null: a path that is no id (404 as well). `audit`: who asked (the operator or the shop), kept in the audit log. */
/** What cancelling uses: PostgreSQL decides, Redis follows. */
export type CancelDeps = { sql: Sql; log: Logger; redis: RedisClient; keys: KeysOf };

export async function cancelBooking(s: CancelDeps, id: number | null, reason: string | null, audit?: AuditContext): Promise<CancelledBooking> {
  if (id === null) throw unknownBooking();
  const { row, moved } = await during("PostgreSQL", () => cancelInPostgres(s.sql, id, reason, audit));
  if (audit) logChange(s.log, audit);
  const bookingId = Number(row.booking_id);
  if (moved) s.log.info("booking cancelled", { ticket_type_id: row.ticket_type_id, booking_id: bookingId, quantity: row.quantity });
  try {
    const booking = { id: tokenIdOf(row.token), userId: row.user_id, quantity: row.quantity, bookingId, bookingRef: row.booking_ref, moved };
    await s.redis.scripts.cancel({ keys: s.keys(row.ticket_type_id), booking });
  } catch (err) {
    // PostgreSQL stands: status reads cancelled once the record's hour is over (or a repeat
    // cancel reaches Redis); the grant counts the limit right, a join may be refused early meanwhile
    s.log.warn("could not tell redis of a cancel; a repeat cancel will", { error: err });
  }
  const { user_id: _user, token: _token, confirmed_at, cancelled_at, ...rest } = row;
  return { ...rest, booking_id: bookingId, confirmed_at: confirmed_at.toISOString(), cancelled_at: cancelled_at.toISOString() };
}

/** What the audit log keeps of a cancel: the status, and the reason given. */
const AUDITED = ["status", "cancel_reason"] as const;

async function cancelInPostgres(sql: Sql, id: number, reason: string | null, audit?: AuditContext): Promise<{ row: Row; moved: boolean }> {
  return sql.begin(async (tx) => {
    const [found] = await tx<{ ticket_type_id: number }[]>`SELECT ticket_type_id FROM bookings WHERE id = ${id}`;
    if (!found) throw unknownBooking();
    // the type's row lock first, in a statement of its own (as the grant and expiry); NO KEY
    // UPDATE, as a PATCH's (admin/events.ts): a booking's foreign-key check does not wait on it
    await tx`SELECT 1 FROM ticket_types WHERE id = ${found.ticket_type_id} FOR NO KEY UPDATE`;
    const [cancelled] = await tx<Row[]>`
      UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancel_reason = ${reason}
      WHERE id = ${id} AND status = 'confirmed'
      RETURNING ${tx.unsafe(COLUMNS)}`;
    if (cancelled) {
      await tx`UPDATE ticket_types SET stock = stock + ${cancelled.quantity} WHERE id = ${found.ticket_type_id}`;
      await recordChange(tx, audit, "booking", { status: "confirmed", cancel_reason: null }, { ...cancelled, id }, AUDITED);
      return { row: cancelled, moved: true };
    }
    const [row] = await tx<Row[]>`SELECT ${tx.unsafe(COLUMNS)} FROM bookings WHERE id = ${id}`;
    // cancelled before: recorded with no changes, as a PATCH that changed nothing
    await recordChange(tx, audit, "booking", row!, { ...row!, id }, AUDITED);
    return { row: row!, moved: false };
  }) as Promise<{ row: Row; moved: boolean }>;
}
