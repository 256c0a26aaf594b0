// Step 2 of a batch: take stock and write the holds, in join order, never below zero. The SQL
// lives in sql/0004_grant_checks.sql.
//
// The fast path is one call of grant_holds: one round trip for the longest run of the batch
// that the stock covers, people refused alone (a malformed record, over the user's limit)
// skipped. A unique violation means the batch holds a token that already has a hold (a retry,
// a recovery) or a user who holds this type under another token (I4), and a data exception a
// line the screening let through; then grant_holds_carefully runs instead, which checks every
// field and reports those rather than granting them. Both are rare, and the careful statement
// costs more per row.
//
// A sale the operator paused, or whose start is still ahead as PostgreSQL has it, grants
// nobody (sql/0006_grant_gates.sql decides it under the row lock): the fast path says so in
// `closed`, and the careful path then tells who already has a hold (a retry, a recovery) from
// who waits for the sale.
import type { Sql } from "../store/db";
import { parseGrantOutcome, parseRefused, type GrantOutcome, type Refusals } from "../store/formats";
import type { HoldStatus } from "../domain/states";

/** Why a grant granted nobody whatever its stock: the sale is paused, or has not started. */
export type SaleClosed = "paused" | "not_on_sale";
export type GrantRow = {
  outcome: GrantOutcome;
  expires_at: Date | null;
  prior_status: HoldStatus | null;
};
/**
 * `rows` (one per person, in batch order) only when the careful statement ran; otherwise the
 * people in `refused` (1-based positions) were refused, the first `granted` of the others hold
 * until `expiresAt` and the rest wait.
 */
export type Grant = {
  rows: GrantRow[] | null;
  granted: number;
  expiresAt: Date | null;
  stockLeft: number | null;
  refused: Refusals;
  closed: SaleClosed | null;
};

const UNIQUE_VIOLATION = "23505";
/** SQLSTATE class 22: a line that slipped through screening failed a cast (claim.ts screens them). */
const isDataException = (code: string | undefined) => code?.startsWith("22") ?? false;

/** `lines`: the batch as claim-3.lua wrote it, "<token>\t<user id>\t<quantity>\t<place>" per person. */
export async function grantHolds(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  try {
    const grant = await grantRun(sql, ticketTypeId, epoch, lines, holdSeconds);
    // rare (the processor skips a type it knows is closed): who already holds, who waits
    return grant.closed ? await grantCarefully(sql, ticketTypeId, epoch, lines, holdSeconds) : grant;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== UNIQUE_VIOLATION && !isDataException(code)) throw err;
    return grantCarefully(sql, ticketTypeId, epoch, lines, holdSeconds);
  }
}

async function grantRun(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  const [result] = await sql<{ held: number; deadline: Date | null; stock_left: number | null; refused: string | null; closed: SaleClosed | null }[]>`
    SELECT held, deadline, stock_left, refused, closed FROM grant_holds(${ticketTypeId}, ${epoch}, ${lines}, ${holdSeconds})`;
  return {
    rows: null,
    granted: result!.held,
    expiresAt: result!.deadline,
    stockLeft: result!.stock_left,
    refused: parseRefused(result!.refused),
    closed: result!.closed,
  };
}

async function grantCarefully(
  sql: Sql, ticketTypeId: number, epoch: number, lines: string, holdSeconds: number,
): Promise<Grant> {
  const answer = await sql<(Omit<GrantRow, "outcome"> & { outcome: string; stock_left: number | null; closed: SaleClosed | null })[]>`
    SELECT outcome, expires_at, prior_status, stock_left, closed
    FROM grant_holds_carefully(${ticketTypeId}, ${epoch}, ${lines}, ${holdSeconds})`;
  const rows = answer.map((r) => ({ ...r, outcome: parseGrantOutcome(r.outcome) }));
  const granted = rows.filter((r) => r.outcome === "granted");
  return {
    rows,
    granted: granted.length,
    expiresAt: granted[0]?.expires_at ?? null,
    stockLeft: rows[0]?.stock_left ?? null,
    refused: new Map(),
    closed: rows[0]?.closed ?? null,
  };
}

/** Stock on sale and stock held right now: whether someone still waiting can ever be served. */
export async function availability(sql: Sql, ticketTypeId: number): Promise<{ stock: number; held: number } | null> {
  const [row] = await sql<{ stock: number; held: number }[]>`
    SELECT t.stock, coalesce(h.tickets, 0)::int AS held
    FROM ticket_types t LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
    WHERE t.id = ${ticketTypeId}`;
  return row ?? null;
}
