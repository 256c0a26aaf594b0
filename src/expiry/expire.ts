// Expiry: due holds found through the reservations_due index, marked expired and their stock
// given back, in one transaction. SKIP LOCKED lets cleaners race without waiting on each
// other, and the status condition means a hold is refilled exactly once, whoever gets it.
import type { Sql } from "../store/db";

/** lag_seconds: how long after its deadline it expired, by PostgreSQL's clock (the cleaner's lag, a metric). */
export type ExpiredHold = { token: string; ticket_type_id: number; lag_seconds: number };

export async function expireDueHolds(sql: Sql, limit: number): Promise<ExpiredHold[]> {
  return sql.begin(async (sql) => {
    const expired = await sql<(ExpiredHold & { quantity: number })[]>`
      UPDATE reservations r SET status = 'expired', ended_at = clock_timestamp()
      FROM (
        SELECT token FROM reservations
        WHERE status = 'held' AND expires_at <= now()
        ORDER BY expires_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ) due
      WHERE r.token = due.token AND r.status = 'held'
      RETURNING r.token, r.ticket_type_id, r.quantity,
                extract(epoch FROM r.ended_at - r.expires_at)::float8 AS lag_seconds`;
    const refills = new Map<number, number>();
    for (const e of expired) refills.set(e.ticket_type_id, (refills.get(e.ticket_type_id) ?? 0) + e.quantity);
    // Plain UPDATEs, each in a statement of its own, so each re-reads a row a concurrent grant
    // just changed (see grant.ts); in id order, so two cleaners never deadlock.
    for (const [id, quantity] of [...refills].sort(([a], [b]) => a - b)) {
      await sql`UPDATE ticket_types SET stock = stock + ${quantity} WHERE id = ${id}`;
    }
    return expired.map(({ token, ticket_type_id, lag_seconds }) => ({ token, ticket_type_id, lag_seconds }));
  });
}

/** Milliseconds until the next hold falls due by PostgreSQL's clock, or null when none is held. */
export async function msUntilNextDeadline(sql: Sql): Promise<number | null> {
  const [row] = await sql<{ ms: number | null }[]>`
    SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms
    FROM reservations WHERE status = 'held'`;
  return row?.ms ?? null;
}
