// Step 2 of a batch: one transaction takes stock and writes the holds, in join order, never
// below zero. A token that already has a hold (a retry, a recovery) is reported, not granted
// again; a user who already holds this ticket type under another token is a duplicate (I4).
//
// The row lock comes first, in a statement of its own: the grant statement then starts with a
// snapshot taken after the lock, so the stock it reads is the stock it updates. (Locking and
// updating the row inside one statement computes the update from the statement's older
// snapshot when a refill commits in between: a lost update, caught only by the CHECK.)
import type { Sql } from "../db";

export type GrantOutcome = "granted" | "prior" | "duplicate" | "waiting";
export type GrantRow = {
  token: string;
  outcome: GrantOutcome;
  expires_at: Date | null;
  prior_status: "held" | "confirmed" | "expired" | "released" | null;
};
export type Grant = { rows: GrantRow[]; stockLeft: number | null };
export type HoldRequest = { token: string; userId: string; quantity: number; place: number };

export async function grantHolds(
  sql: Sql, ticketTypeId: number, epoch: number, requests: HoldRequest[], holdSeconds: number,
): Promise<Grant> {
  const [, rows] = await sql.begin((sql) => [
    sql`SELECT 1 FROM ticket_types WHERE id = ${ticketTypeId} FOR UPDATE`,
    sql<(GrantRow & { stock_left: number | null })[]>`
    WITH type AS (
      SELECT id, stock FROM ticket_types WHERE id = ${ticketTypeId}
    ), request AS (
      SELECT * FROM unnest(
        ${requests.map((r) => r.token)}::text[], ${requests.map((r) => r.userId)}::text[],
        ${requests.map((r) => r.quantity)}::int[], ${requests.map((r) => r.place)}::bigint[]
      ) WITH ORDINALITY AS r(token, user_id, quantity, place, ord)
    ), known AS (
      SELECT r.*, x.status AS prior_status, x.expires_at AS prior_expires_at,
             EXISTS (
               SELECT 1 FROM reservations h
               WHERE h.ticket_type_id = ${ticketTypeId} AND h.user_id = r.user_id
                 AND h.status = 'held' AND h.expires_at > now() AND h.token <> r.token
             ) AS duplicate
      FROM request r LEFT JOIN reservations x ON x.token = r.token
    ), fresh AS (
      SELECT k.*, sum(k.quantity) OVER (ORDER BY k.ord) AS needed
      FROM known k WHERE k.prior_status IS NULL AND NOT k.duplicate
    ), granted AS (
      INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at, queue_epoch, queue_place)
      SELECT f.token, ${ticketTypeId}, f.user_id, f.quantity,
             now() + make_interval(secs => ${holdSeconds}), ${epoch}, f.place
      FROM fresh f CROSS JOIN type WHERE f.needed <= type.stock
      ORDER BY f.ord
      -- a user twice in one batch: the one-live-hold index keeps the first, stock counts only inserts
      ON CONFLICT DO NOTHING
      RETURNING token, quantity, expires_at
    ), taken AS (
      UPDATE ticket_types t SET stock = t.stock - (SELECT coalesce(sum(quantity), 0) FROM granted)
      FROM type WHERE t.id = type.id
      RETURNING t.stock
    )
    SELECT k.token,
           CASE WHEN g.token IS NOT NULL THEN 'granted'
                WHEN k.prior_status IS NOT NULL THEN 'prior'
                WHEN k.duplicate THEN 'duplicate'
                ELSE 'waiting' END AS outcome,
           coalesce(g.expires_at, k.prior_expires_at) AS expires_at,
           k.prior_status,
           (SELECT stock FROM taken) AS stock_left
    FROM known k LEFT JOIN granted g ON g.token = k.token
    ORDER BY k.ord`,
  ]);
  return { rows, stockLeft: rows[0]?.stock_left ?? null };
}

/** Stock on sale and stock held right now: whether someone still waiting can ever be served. */
export async function availability(sql: Sql, ticketTypeId: number): Promise<{ stock: number; held: number } | null> {
  const [row] = await sql<{ stock: number; held: number }[]>`
    SELECT t.stock,
           (SELECT coalesce(sum(quantity), 0)::int FROM reservations
            WHERE ticket_type_id = t.id AND status = 'held') AS held
    FROM ticket_types t WHERE t.id = ${ticketTypeId}`;
  return row ?? null;
}
