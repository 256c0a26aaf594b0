// Step 2 of a batch: take stock and write the holds, in join order, never below zero.
//
// The fast path is one call of grant_holds (sql/0002_grant_holds.sql): one round trip for the
// longest prefix of the batch that the stock covers. A unique violation means the batch holds
// a token that already has a hold (a retry, a recovery) or a user who holds this type under
// another token (I4); then the careful statement below runs instead, which reports those
// rather than granting them. Conflicts are rare, and the careful statement costs more per row.
import type { Sql } from "../db";

export type GrantOutcome = "granted" | "prior" | "duplicate" | "waiting";
export type GrantRow = {
  outcome: GrantOutcome;
  expires_at: Date | null;
  prior_status: "held" | "confirmed" | "expired" | "released" | null;
};
/**
 * `rows` (one per person, in batch order) only when the careful statement ran; otherwise the
 * first `granted` people hold until `expiresAt` and the rest wait.
 */
export type Grant = { rows: GrantRow[] | null; granted: number; expiresAt: Date | null; stockLeft: number | null };

const UNIQUE_VIOLATION = "23505";

/** `lines`: the batch as claim-3.lua wrote it, "<token>\t<user id>\t<quantity>\t<place>" per person. */
export async function grantHolds(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  try {
    return await grantPrefix(sql, ticketTypeId, epoch, lines, holdSeconds);
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    return grantCarefully(sql, ticketTypeId, epoch, lines, holdSeconds);
  }
}

async function grantPrefix(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  const [result] = await sql<{ held: number; deadline: Date | null; stock_left: number | null }[]>`
    SELECT held, deadline, stock_left FROM grant_holds(${ticketTypeId}, ${epoch}, ${lines}, ${holdSeconds})`;
  return { rows: null, granted: result!.held, expiresAt: result!.deadline, stockLeft: result!.stock_left };
}

/**
 * Handles tokens that already hold (a retry, a recovery) and users holding under another
 * token. As in grant_holds, the row lock comes first in a statement of its own.
 */
async function grantCarefully(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  const [, rows] = await sql.begin((sql) => [
    sql`SELECT 1 FROM ticket_types WHERE id = ${ticketTypeId} FOR UPDATE`,
    sql<(GrantRow & { stock_left: number | null })[]>`
    WITH type AS (
      SELECT id, stock FROM ticket_types WHERE id = ${ticketTypeId}
    ), request AS (
      SELECT split_part(line, E'\t', 1) AS token, split_part(line, E'\t', 2) AS user_id,
             split_part(line, E'\t', 3)::int AS quantity, split_part(line, E'\t', 4)::bigint AS place, ord
      FROM string_to_table(${lines}::text, E'\n') WITH ORDINALITY AS l(line, ord)
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
    SELECT CASE WHEN g.token IS NOT NULL THEN 'granted'
                WHEN k.prior_status IS NOT NULL THEN 'prior'
                WHEN k.duplicate THEN 'duplicate'
                ELSE 'waiting' END AS outcome,
           coalesce(g.expires_at, k.prior_expires_at) AS expires_at,
           k.prior_status,
           (SELECT stock FROM taken) AS stock_left
    FROM known k LEFT JOIN granted g ON g.token = k.token
    ORDER BY k.ord`,
  ]);
  const granted = rows.filter((r) => r.outcome === "granted");
  return {
    rows: [...rows],
    granted: granted.length,
    expiresAt: granted[0]?.expires_at ?? null,
    stockLeft: rows[0]?.stock_left ?? null,
  };
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
