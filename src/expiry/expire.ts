// Expiry: due holds found through the reservations_due index, marked expired and their stock
// given back, all in one statement. SKIP LOCKED lets cleaners race without waiting on each
// other, and the status condition means a hold is refilled exactly once, whoever gets it.
import type { Sql } from "../db";

export type ExpiredHold = { token: string; ticket_type_id: number };

export async function expireDueHolds(sql: Sql, limit: number): Promise<ExpiredHold[]> {
  return sql<ExpiredHold[]>`
    WITH due AS (
      SELECT token FROM reservations
      WHERE status = 'held' AND expires_at <= now()
      ORDER BY expires_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), expired AS (
      UPDATE reservations r SET status = 'expired', ended_at = now()
      FROM due WHERE r.token = due.token AND r.status = 'held'
      RETURNING r.token, r.ticket_type_id, r.quantity
    ), locked AS (
      -- ticket types locked in id order, so two cleaners never deadlock on them
      SELECT id FROM ticket_types
      WHERE id IN (SELECT ticket_type_id FROM expired)
      ORDER BY id FOR UPDATE
    ), refilled AS (
      UPDATE ticket_types t SET stock = t.stock + back.quantity
      FROM (SELECT ticket_type_id, sum(quantity)::int AS quantity FROM expired GROUP BY ticket_type_id) back
      JOIN locked ON locked.id = back.ticket_type_id
      WHERE t.id = back.ticket_type_id
      RETURNING t.id
    )
    SELECT token, ticket_type_id FROM expired`;
}

/** Milliseconds until the next hold falls due by PostgreSQL's clock, or null when none is held. */
export async function msUntilNextDeadline(sql: Sql): Promise<number | null> {
  const [row] = await sql<{ ms: number | null }[]>`
    SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms
    FROM reservations WHERE status = 'held'`;
  return row?.ms ?? null;
}
