// GET /admin/ticket-types/:id: a ticket type's live figures for the operator, beside its sale
// controls (paused, max_active_holds, holds_per_minute). PostgreSQL's (the controls, stock and
// tickets by hold status) come from one statement; Redis's (the queue) from two
// round trips. While Redis is unreachable the answer still comes, with PostgreSQL's figures
// and every Redis figure null (`redis: "unavailable"`): an operator watching an outage needs the
// holds and bookings most. PostgreSQL unreachable is a 503, as everywhere.
import type { Sql } from "../store/db";
import { during, fail, Unavailable } from "../core/errors";
import type { Keys, KeysOf, RedisClient } from "../store/redis";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { IdParams, pathId } from "./ids";
import type { TicketTypeFigures } from "../api/schemas";

/** How far from the head the oldest waiting place is looked for, past places given back. */
export const HEAD_SCAN = 50;

/** The figures Redis gives (null while it is unavailable); PostgreSQL gives the rest. */
export type RedisFigures = Pick<
  TicketTypeFigures, "people_queued" | "people_prequeued" | "batches_in_flight" | "serving_rate" | "oldest_waiting_place"
>;
export type PostgresFigures = Omit<TicketTypeFigures, keyof RedisFigures | "redis">;

export const adminFiguresRoutes = (s: { config: Config; sql: Sql; redis: RedisClient; keys: KeysOf }) =>
  adminScope(s).get(
    "/ticket-types/:id",
    async ({ params }) => {
      const id = pathId(params.id);
      const pg = id === null ? null : await during("PostgreSQL", () => postgresFigures(s.sql, id));
      if (!pg) throw fail("unknown_ticket_type");
      let redis: RedisFigures | null = null;
      try {
        redis = await during("Redis", () => redisFigures(s.redis, s.keys(pg.id)));
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
      }
      const { next_hold_deadline, ...rest } = pg;
      return {
        ...rest,
        ...(redis ?? { people_queued: null, people_prequeued: null, batches_in_flight: null, serving_rate: null, oldest_waiting_place: null }),
        next_hold_deadline,
        redis: redis ? "ok" : "unavailable",
      };
    },
    { params: IdParams },
  );

/** The type's row and its tickets by hold status (sums of quantities; held from held_tickets), in one statement. */
export async function postgresFigures(sql: Sql, id: number): Promise<PostgresFigures | null> {
  const [row] = await sql<(Omit<PostgresFigures, "next_hold_deadline"> & { next_hold_deadline: Date | null })[]>`
    SELECT t.id, t.event_id, t.name, t.capacity, t.stock, t.paused, t.max_active_holds, t.holds_per_minute,
           coalesce(h.tickets, 0)::int8                                             AS held,
           -- a cancelled booking's hold stays confirmed; its tickets are back in stock
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'confirmed' AND b.status IS DISTINCT FROM 'cancelled'), 0)::int8 AS confirmed,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'expired'), 0)::int8   AS expired,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'released'), 0)::int8  AS released,
           h.next_deadline                                                          AS next_hold_deadline
    FROM ticket_types t
    LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
    LEFT JOIN reservations r ON r.ticket_type_id = t.id
    LEFT JOIN bookings b ON b.token = r.token
    WHERE t.id = ${id}
    GROUP BY t.id, h.tickets, h.next_deadline`;
  if (!row) return null;
  return { ...row, next_hold_deadline: row.next_hold_deadline?.toISOString() ?? null };
}

/**
 * The queue's figures. people_queued is the list's length: the entries the processor has yet
 * to reach, which includes people who gave their place back (leave-1.lua leaves the entry,
 * the processor drops it on reaching it), so it is an upper bound; seq - served would count
 * those too, and the batches in flight besides. The oldest waiting place is that of the first
 * entry from the head still queued, looked for among the first HEAD_SCAN (null past them).
 */
export async function redisFigures(redis: RedisClient, k: Keys): Promise<RedisFigures> {
  const replies = await redis
    .multi()
    .llen(k.queue)
    .hlen(k.inflight)
    .hget(k.meta, "rate")
    .lrange(k.queue, 0, HEAD_SCAN - 1)
    .zcard(k.prequeue)
    .exec();
  const [length, inflight, rate, head, prequeued] = (replies ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  }) as [number, number, string | null, string[], number];
  let oldest: number | null = null;
  if (head.length > 0) {
    const pipeline = redis.pipeline();
    for (const id of head) pipeline.hmget(k.record(id), "state", "place");
    for (const [err, value] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      const [state, place] = value as [string | null, string | null];
      if (state === "queued" && place) {
        oldest = Number(place);
        break;
      }
    }
  }
  return {
    people_queued: length,
    people_prequeued: prequeued,
    batches_in_flight: inflight,
    serving_rate: rate === null || rate === "" ? null : Number(rate),
    oldest_waiting_place: oldest,
  };
}
