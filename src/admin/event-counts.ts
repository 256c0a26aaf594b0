// The counts behind GET /admin/events/:id/figures that no index serves: holds ever granted and
// the tickets of holds that expired or were given back need every reservation of a type (a
// sequential scan of reservations: only its held rows are indexed, and an index more would
// cost every hold, confirm and expiry). So they are counted at most every RECOUNT_MS per type
// and thread, with the type's bookings; each reading adds what came since cheaply (figures
// statement): holds granted since that are still held or booked, bookings made since.
import type { Sql } from "../store/db";

export const RECOUNT_MS = 30_000;

/** A type's counts as of one recount, and the marks past which the figures look for newer rows. */
export type Counted = {
  at: number;
  /** the highest grant_seq of the type's holds then (0: none) */
  grantMark: number;
  /** the highest booking id of the type then (0: none) */
  bookingMark: number;
  granted: number;
  expired: number;
  released: number;
  bookings: number;
  bookedTickets: number;
};

/** By database (a test process talks to several, each with its own type ids), then by type. */
const countedIn = new WeakMap<Sql, Map<number, Counted>>();

/** The counts of these types, recounted where older than RECOUNT_MS. */
export async function countsOf(sql: Sql, typeIds: number[], now = Date.now()): Promise<Map<number, Counted>> {
  let counted = countedIn.get(sql);
  if (!counted) countedIn.set(sql, (counted = new Map()));
  const stale = typeIds.filter((id) => !(now - (counted.get(id)?.at ?? -Infinity) < RECOUNT_MS));
  if (stale.length > 0) await recount(sql, counted, stale, now);
  return new Map(typeIds.map((id) => [id, counted.get(id)!]));
}

/** The types' ($1) counts, in one statement: one snapshot, so a hold booked meanwhile is neither missed nor counted twice. Exported for bench/. */
export const RECOUNT_STATEMENT = `
    SELECT t.id,
           coalesce(r.granted, 0)::int8 AS granted, coalesce(r.expired, 0)::int8 AS expired, coalesce(r.released, 0)::int8 AS released,
           coalesce(r.grant_mark, 0)::int8 AS grant_mark,
           coalesce(b.bookings, 0)::int8 AS bookings, coalesce(b.tickets, 0)::int8 AS booked_tickets, coalesce(b.booking_mark, 0)::int8 AS booking_mark
    FROM unnest($1::int[]) AS t(id)
    LEFT JOIN (
      SELECT ticket_type_id, count(*) AS granted, max(grant_seq) AS grant_mark,
             sum(quantity) FILTER (WHERE status = 'expired') AS expired, sum(quantity) FILTER (WHERE status = 'released') AS released
      FROM reservations WHERE ticket_type_id = ANY($1::int[]) GROUP BY ticket_type_id
    ) r ON r.ticket_type_id = t.id
    LEFT JOIN (
      SELECT ticket_type_id, count(*) AS bookings, sum(quantity) AS tickets, max(id) AS booking_mark
      FROM bookings WHERE ticket_type_id = ANY($1::int[]) GROUP BY ticket_type_id
    ) b ON b.ticket_type_id = t.id`;

async function recount(sql: Sql, counted: Map<number, Counted>, typeIds: number[], now: number): Promise<void> {
  // a scan this short is not worth starting parallel workers for (they cost more than the scan), nor JIT
  const rows = await sql.begin(async (tx) => {
    await tx`SET LOCAL max_parallel_workers_per_gather = 0`;
    await tx`SET LOCAL jit = off`;
    return tx.unsafe<{ id: number; granted: number; expired: number; released: number; grant_mark: number;
    bookings: number; booked_tickets: number; booking_mark: number }[]>(RECOUNT_STATEMENT, [typeIds as never]);
  });
  for (const row of rows) {
    counted.set(row.id, {
      at: now, grantMark: Number(row.grant_mark), bookingMark: Number(row.booking_mark),
      granted: Number(row.granted), expired: Number(row.expired), released: Number(row.released),
      bookings: Number(row.bookings), bookedTickets: Number(row.booked_tickets),
    });
  }
}
