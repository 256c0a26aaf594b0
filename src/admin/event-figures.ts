// GET /admin/events/:id/figures: the live figures of every ticket type of an event at once,
// for the console's once-a-second reading (not one request per type per second). Each type's
// are those of GET /admin/ticket-types/:id (figures.ts) and four counts the console charts:
// holds outstanding, holds granted ever, bookings ever made, tickets of cancelled bookings.
// The counts only grow (but holds), so the page takes rates from two readings.
// Redis unreachable: PostgreSQL's figures still come, each type's Redis figures null.
import type { Sql } from "../store/db";
import { during, fail, Unavailable } from "../core/errors";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { IdParams, pathId } from "./ids";
import { redisFigures, type RedisFigures } from "./figures";
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

/** Every type of the event, its tickets by hold status and the counts, in one statement; null when there is no such event. */
async function postgresRows(sql: Sql, eventId: number): Promise<PostgresRow[] | null> {
  const rows = await sql<PostgresRow[]>`
    SELECT t.id, t.event_id, t.name, t.capacity, t.stock, t.paused, t.max_active_holds, t.holds_per_minute,
           coalesce(h.tickets, 0)::int8                                             AS held,
           coalesce(h.holds, 0)::int8                                               AS holds,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'confirmed' AND b.status IS DISTINCT FROM 'cancelled'), 0)::int8 AS confirmed,
           coalesce(sum(r.quantity) FILTER (WHERE b.status = 'cancelled'), 0)::int8 AS cancelled,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'expired'), 0)::int8   AS expired,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'released'), 0)::int8  AS released,
           count(r.token)::int8                                                     AS holds_granted,
           count(b.token)::int8                                                     AS bookings,
           h.next_deadline                                                          AS next_hold_deadline
    FROM ticket_types t
    LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
    LEFT JOIN reservations r ON r.ticket_type_id = t.id
    LEFT JOIN bookings b ON b.token = r.token
    WHERE t.event_id = ${eventId}
    GROUP BY t.id, h.tickets, h.holds, h.next_deadline
    ORDER BY t.id`;
  if (rows.length > 0) return rows;
  const [event] = await sql`SELECT 1 FROM events WHERE id = ${eventId}`;
  return event ? [] : null;
}
