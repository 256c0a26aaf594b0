// GET /admin/events/:id/figures: the live figures of every ticket type of an event at once,
// for the console's once-a-second reading (not one request per type per second). Each type's
// are those of GET /admin/ticket-types/:id (figures.ts) and four counts the console charts:
// holds outstanding, holds granted ever, bookings ever made, tickets of cancelled bookings.
// The counts only grow (but holds), so the page takes rates from two readings.
// Redis unreachable: PostgreSQL's figures still come, each type's Redis figures null.
//
// Cheap at any size of sale (bench/console-figures.ts): a reading touches the type rows, the
// held rows (partial index) and the rows newer than the last recount (event-counts.ts), never
// every reservation. Confirmed tickets are capacity - stock - held: the stock ledger (I2),
// which holds in any one snapshot (src/store/invariants.ts checks it against the tables).
import type { Sql } from "../store/db";
import { during, fail, Unavailable } from "../core/errors";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { IdParams, pathId } from "./ids";
import { redisFigures, type RedisFigures } from "./figures";
import { countsOf } from "./event-counts";
import type { EventFigures, EventTypeFigures } from "../api/schemas";

type PostgresRow = Omit<EventTypeFigures, keyof RedisFigures | "redis" | "next_hold_deadline"> & { next_hold_deadline: Date | null };

const NO_REDIS: RedisFigures = {
  people_queued: null, people_prequeued: null, batches_in_flight: null, serving_rate: null, oldest_waiting_place: null,
};

export const adminEventFiguresRoutes = (s: { config: Config; sql: Sql; redis: RedisClient; keys: KeysOf }) =>
  adminScope(s).get(
    "/events/:id/figures",
    async ({ params }): Promise<EventFigures> => {
      const eventId = pathId(params.id);
      const rows = eventId === null ? null : await during("PostgreSQL", () => postgresRows(s.sql, eventId));
      if (!rows) throw fail("unknown_event");
      const read_at = new Date().toISOString();
      const ticket_types = await Promise.all(rows.map(async ({ next_hold_deadline, ...pg }) => {
        const redis = await readRedis(() => redisFigures(s.redis, s.keys(pg.id)));
        return {
          ...pg, ...(redis ?? NO_REDIS),
          next_hold_deadline: next_hold_deadline?.toISOString() ?? null,
          redis: redis ? "ok" as const : "unavailable" as const,
        };
      }));
      return { event_id: eventId!, read_at, ticket_types };
    },
    { params: IdParams },
  );

async function readRedis(read: () => Promise<RedisFigures>): Promise<RedisFigures | null> {
  try {
    return await during("Redis", read);
  } catch (err) {
    if (err instanceof Unavailable) return null;
    throw err;
  }
}

/**
 * Every type of the event ($1) with its held tickets, and what came since its last recount ($2
 * the types, $3 their grant marks, $4 their booking marks): holds granted since that are still
 * held, bookings made since, and how many of those were granted since too. Exported for
 * bench/console-figures.ts.
 */
export const FIGURES_STATEMENT = `
    SELECT t.id, t.event_id, t.name, t.capacity, t.stock, t.paused, t.max_active_holds, t.holds_per_minute,
           coalesce(h.tickets, 0)::int8         AS held,
           h.holds::int8                        AS holds,
           h.next_deadline                      AS next_hold_deadline,
           m.id IS NOT NULL                     AS counted,
           h.new_grants::int8                   AS new_held_grants,
           n.bookings::int8                     AS new_bookings,
           coalesce(n.tickets, 0)::int8         AS new_booked_tickets,
           n.grants::int8                       AS new_booked_grants
    FROM ticket_types t
    LEFT JOIN unnest($2::int[], $3::int8[], $4::int8[]) AS m(id, grant_mark, booking_mark) ON m.id = t.id
    -- held_tickets' figures for this one type, read through reservations_one_live_hold (the view,
    -- joined, is aggregated for every type), and how many of its holds are newer than the mark
    CROSS JOIN LATERAL (
      SELECT sum(quantity) AS tickets, count(*) AS holds, min(expires_at) AS next_deadline,
             count(*) FILTER (WHERE grant_seq > m.grant_mark) AS new_grants
      FROM reservations WHERE ticket_type_id = t.id AND status = 'held'
    ) h
    -- the bookings past the mark, through bookings_type_id; each one's hold by its token
    CROSS JOIN LATERAL (
      SELECT count(*) AS bookings, sum(b.quantity) AS tickets,
             count(*) FILTER (WHERE (SELECT r.grant_seq FROM reservations r WHERE r.token = b.token) > m.grant_mark) AS grants
      FROM bookings b
      -- as a row, so that only bookings_type_id serves it (not the primary key, past every type's newer bookings)
      WHERE b.ticket_type_id = t.id AND (b.ticket_type_id, b.id) > (t.id, m.booking_mark)
    ) n
    WHERE t.event_id = $1
    ORDER BY t.id`;

type Row = {
  id: number; event_id: number; name: string; capacity: number; stock: number; paused: boolean;
  max_active_holds: number | null; holds_per_minute: number | null; held: number; holds: number;
  next_hold_deadline: Date | null; counted: boolean; new_held_grants: number; new_bookings: number;
  new_booked_tickets: number; new_booked_grants: number;
};

/** The event's rows; null when there is no such event. */
async function postgresRows(sql: Sql, eventId: number): Promise<PostgresRow[] | null> {
  const typeIds = (await sql<{ id: number }[]>`SELECT id FROM ticket_types WHERE event_id = ${eventId} ORDER BY id`).map((r) => r.id);
  if (typeIds.length === 0) {
    const [event] = await sql`SELECT 1 FROM events WHERE id = ${eventId}`;
    return event ? [] : null;
  }
  const counts = await countsOf(sql, typeIds);
  const marks = [...counts.values()];
  const rows = await sql.begin(async (tx) => {
    // The planner cannot know how few rows are past the marks (they come in an array), guesses a
    // third of the type's bookings, and would compile the statement (JIT) for every reading: 15 to
    // 80 ms, for a statement that runs in 2 to 5.
    await tx`SET LOCAL jit = off`;
    return tx.unsafe<Row[]>(FIGURES_STATEMENT, [
      eventId, typeIds as never, marks.map((c) => c.grantMark) as never, marks.map((c) => c.bookingMark) as never,
    ]);
  });
  // a type added since the ids were read waits for the next reading
  return rows.filter((row) => row.counted).map((row) => {
    const c = counts.get(row.id)!;
    const confirmed = row.capacity - row.stock - row.held; // I2
    const bookedTickets = c.bookedTickets + row.new_booked_tickets;
    return {
      id: row.id, event_id: row.event_id, name: row.name, capacity: row.capacity, stock: row.stock, paused: row.paused,
      max_active_holds: row.max_active_holds, holds_per_minute: row.holds_per_minute,
      held: row.held, holds: row.holds, confirmed,
      // a booking committed out of id order before the recount shows at the next one: never below 0 meanwhile
      cancelled: Math.max(0, bookedTickets - confirmed),
      expired: c.expired, released: c.released,
      holds_granted: c.granted + row.new_held_grants + row.new_booked_grants,
      bookings: c.bookings + row.new_bookings,
      next_hold_deadline: row.next_hold_deadline,
    };
  });
}
