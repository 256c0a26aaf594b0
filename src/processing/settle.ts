// Step 3 of a batch: Redis learns what PostgreSQL decided (settle-4.lua).
import type { Keys, RedisClient } from "../redis";
import { ENDED_TTL_SECONDS, HOLD_GRACE_MS, PLACE_TTL_SECONDS } from "../timing";

export type SettleState =
  | "reserved" | "queued" | "sold_out" | "duplicate" | "confirmed" | "expired" | "released";
export type Outcome = { id: string; state: SettleState; expiresAt?: number };

/** Returns how many people went back to the head of the queue. */
export async function settleBatch(
  redis: RedisClient, k: Keys, ticketTypeId: number, outcomes: Outcome[],
  served: number, rate: number | null,
): Promise<number> {
  const triples = outcomes.flatMap((o) => [o.id, o.state, o.expiresAt ?? ""]);
  return (await redis.tqSettle(
    k.queue, k.inflight, k.deadlines, k.meta,
    k.recordPrefix, k.mappingPrefix, k.userPrefix, HOLD_GRACE_MS, ENDED_TTL_SECONDS, PLACE_TTL_SECONDS,
    served, rate === null ? "" : rate.toFixed(3), ticketTypeId, ...triples,
  )) as number;
}
