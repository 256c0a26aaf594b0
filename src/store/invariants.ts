// The invariants that live in PostgreSQL, checked in SQL: I1 no oversell, I2 conservation of
// stock, I3 one booking per token, I4 one place per user, I5 holds in join order (below), and
// I6 every hold ends (separate: it needs time to pass).
//
// A cancelled booking (the shop's or the operator's cancel: a refund, a chargeback) gave its
// tickets back to stock. Its reservation stays 'confirmed' (the hold did end in a booking; the
// token reads 'cancelled', a state after it in src/domain/states.ts), so "confirmed" below means: a
// confirmed hold whose booking is not cancelled. I1 counts only confirmed bookings; I3 still
// pairs every booking, cancelled or not, with its confirmed hold. docs/ARCHITECTURE.md ("How it
// works") and docs/fault-suite.md name them too. Tests, the benchmark, the fault suite and `ticket-queue check` all use these.
import type { Sql } from "./db";

export type Finding = { invariant: "I1" | "I2" | "I3" | "I4" | "I5"; ticket_type_id: number | null; detail: string };

/** Every broken invariant found; an empty list means all of I1-I5 hold. */
export async function checkInvariants(sql: Sql): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (invariant: Finding["invariant"], rows: { ticket_type_id: number | null; detail: string }[]) =>
    findings.push(...rows.map((r) => ({ invariant, ...r })));

  // I1 no oversell: stock never below zero, bookings never above capacity.
  add("I1", await sql`
    SELECT t.id AS ticket_type_id,
           format('stock %s, booked %s of capacity %s', t.stock, coalesce(b.booked, 0), t.capacity) AS detail
    FROM ticket_types t
    LEFT JOIN (SELECT ticket_type_id, sum(quantity) AS booked FROM bookings WHERE status = 'confirmed' GROUP BY 1) b ON b.ticket_type_id = t.id
    WHERE t.stock < 0 OR coalesce(b.booked, 0) > t.capacity`);

  // I2 conservation: capacity = stock + held + confirmed (cancelled bookings not counted).
  add("I2", await conservationDrift(sql));

  // I3 once: one booking per token, and bookings are exactly the confirmed holds.
  add("I3", await sql`
    SELECT coalesce(r.ticket_type_id, b.ticket_type_id) AS ticket_type_id,
           format('token %s: hold %s x%s, booking %s x%s', coalesce(r.token, b.token),
                  coalesce(r.status, 'none'), r.quantity, coalesce(b.id::text, 'none'), b.quantity) AS detail
    FROM (SELECT * FROM reservations WHERE status = 'confirmed') r
    FULL JOIN bookings b ON b.token = r.token
    WHERE r.token IS NULL OR b.token IS NULL OR r.quantity <> b.quantity
       OR r.ticket_type_id <> b.ticket_type_id OR r.user_id <> b.user_id`);

  // I4 one place: a user holds one ticket type under one token at most.
  add("I4", await sql`
    SELECT ticket_type_id, format('user %s holds %s times', user_id, count(*)) AS detail
    FROM reservations WHERE status = 'held'
    GROUP BY ticket_type_id, user_id HAVING count(*) > 1`);

  // I5 fair: holds were granted in join order.
  add("I5", await sql`
    SELECT ticket_type_id,
           format('hold %s (joined %s/%s) granted after one that joined %s/%s',
                  token, queue_epoch, queue_place, previous_epoch, previous_place) AS detail
    FROM (
      SELECT ticket_type_id, token, queue_epoch, queue_place,
             lag(queue_epoch) OVER w AS previous_epoch, lag(queue_place) OVER w AS previous_place
      FROM reservations
      WINDOW w AS (PARTITION BY ticket_type_id ORDER BY grant_seq)
    ) ordered
    WHERE (queue_epoch, queue_place) <= (previous_epoch, previous_place)`);

  return findings;
}

/** Where a ticket type's stock stands: capacity against stock + held + confirmed (not cancelled). */
export type StockLedger = {
  ticket_type_id: number;
  name: string;
  capacity: number;
  stock: number;
  held: number;
  confirmed: number;
  /** capacity - (stock + held + confirmed): 0 unless stock was lost (> 0) or made up (< 0) */
  drift: number;
};

/**
 * I2 recomputed from the tables for every ticket type. One statement sees one snapshot, and
 * every change of stock commits together with the holds it concerns, so this holds at any
 * moment, not only quiet ones.
 */
export async function stockLedger(sql: Sql): Promise<StockLedger[]> {
  return sql<StockLedger[]>`
    SELECT t.id AS ticket_type_id, t.name, t.capacity, t.stock,
           coalesce(h.tickets, 0)::int AS held, coalesce(c.confirmed, 0)::int AS confirmed,
           t.capacity - t.stock - coalesce(h.tickets, 0)::int - coalesce(c.confirmed, 0)::int AS drift
    FROM ticket_types t
    LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
    LEFT JOIN (
      SELECT r.ticket_type_id, sum(r.quantity) AS confirmed
      FROM reservations r LEFT JOIN bookings b ON b.token = r.token
      WHERE r.status = 'confirmed' AND b.status IS DISTINCT FROM 'cancelled'
      GROUP BY r.ticket_type_id
    ) c ON c.ticket_type_id = t.id
    ORDER BY t.id`;
}

export const describeLedger = (l: StockLedger) =>
  `capacity ${l.capacity} ${l.drift === 0 ? "=" : "<>"} stock ${l.stock} + held ${l.held} + confirmed ${l.confirmed}`;

/** I2 per ticket type: where capacity differs from stock + held + confirmed. */
export async function conservationDrift(sql: Sql): Promise<{ ticket_type_id: number; detail: string }[]> {
  return (await stockLedger(sql))
    .filter((l) => l.drift !== 0)
    .map((l) => ({ ticket_type_id: l.ticket_type_id, detail: describeLedger(l) }));
}

/** I6 every hold ends: holds still held this long after their deadline (by PostgreSQL's clock). */
export async function overdueHolds(sql: Sql, graceSeconds: number): Promise<{ ticket_type_id: number; detail: string }[]> {
  return sql`
    SELECT ticket_type_id, format('hold %s still held %s after its deadline', token, now() - expires_at) AS detail
    FROM reservations
    WHERE status = 'held' AND expires_at < now() - make_interval(secs => ${graceSeconds})`;
}
