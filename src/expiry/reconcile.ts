// Redis catches up with PostgreSQL. A hold that ended while Redis was unreachable, or whose
// process died between the PostgreSQL commit and the Redis tidy, still reads as held in Redis.
// Each batch whose deadline has passed (deadlines:{T}) is checked once: the holds Redis still
// shows as pending are looked up in PostgreSQL and tidied; a batch with none left leaves the index.
import { heldIds, parseBatchOutcome } from "../store/formats";
import type { Ended } from "../reservations/finish";
import { finishInRedis } from "../reservations/finish";
import type { Sql } from "../store/db";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Tokens } from "../domain/tokens";

const LOOK_BACK_MS = 2000;
const BATCHES_PER_PASS = 200;

export async function reconcileRedis(s: { sql: Sql; redis: RedisClient; keys: KeysOf; tokens: Tokens }): Promise<number> {
  const types = (await s.sql<{ id: number }[]>`SELECT id FROM ticket_types`).map((r) => r.id);
  let tidied = 0;
  for (const ticketTypeId of types) {
    const k = s.keys(ticketTypeId);
    const due = await s.redis.zrangebyscore(k.deadlines, "-inf", Date.now() - LOOK_BACK_MS, "LIMIT", 0, BATCHES_PER_PASS);
    for (const batchId of due) {
      const outcome = await s.redis.get(k.batchPrefix + batchId);
      const held = outcome ? heldIds(parseBatchOutcome(outcome)) : [];
      const states = await Promise.all(held.map((id) => s.redis.hget(k.record(id), "state")));
      const unresolved = held.filter((_, i) => states[i] === "pending");
      let stillHeld = 0;
      if (unresolved.length > 0) {
        const tokens = unresolved.map((id) => s.tokens.sign(ticketTypeId, id));
        const rows = await s.sql<{ token: string; status: string | null; booking_id: number | null; booking_ref: string | null }[]>`
          SELECT d.token, CASE WHEN b.status = 'cancelled' THEN 'cancelled' ELSE r.status END AS status,
                 b.id AS booking_id, b.booking_ref
          FROM unnest(${tokens}::text[]) AS d(token)
          LEFT JOIN reservations r ON r.token = d.token
          LEFT JOIN bookings b ON b.token = d.token`;
        // A token PostgreSQL does not know at all has no hold to keep: it reads as expired. A
        // booking cancelled meanwhile reads as cancelled, and is not counted in the tally.
        const ended: Ended[] = rows
          .filter((r) => r.status !== "held")
          .map((r) => ({
            token: r.token, ticketTypeId, state: (r.status ?? "expired") as Ended["state"], bookingId: r.booking_id, bookingRef: r.booking_ref,
          }));
        stillHeld = rows.length - ended.length;
        if (ended.length > 0) await finishInRedis(s, ended);
        tidied += ended.length;
      }
      if (stillHeld === 0) await s.redis.zrem(k.deadlines, batchId);
    }
  }
  return tidied;
}
