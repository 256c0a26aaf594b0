// Recovery of a batch whose processor died between claim and settle (DESIGN lifecycle step 2):
// PostgreSQL says who got a hold; everyone else goes back to the head of the queue, in order.
import type { Sql } from "../db";
import type { Keys, RedisClient } from "../redis";
import type { Tokens } from "../tokens";
import { settleBatch, type Outcome, type SettleState } from "./settle";

export type RecoverContext = { sql: Sql; redis: RedisClient; tokens: Tokens; keys: (ticketTypeId: number) => Keys };

/**
 * Recovers the in-flight tokens of a ticket type claimed at least `olderThanMs` ago.
 * Returns how many are still in flight afterwards (younger ones, left to their processor).
 */
export async function recoverInflight(
  ctx: RecoverContext, ticketTypeId: number, olderThanMs: number,
): Promise<{ recovered: number; remaining: number }> {
  const k = ctx.keys(ticketTypeId);
  const ids = await ctx.redis.zrangebyscore(k.inflight, "-inf", Date.now() - olderThanMs);
  if (ids.length > 0) {
    const places = await Promise.all(ids.map((id) => ctx.redis.hget(k.record(id), "place")));
    const tokens = ids.map((id) => ctx.tokens.sign(ticketTypeId, id));
    const holds = await ctx.sql<{ token: string; status: SettleState | "held"; expires_at: Date }[]>`
      SELECT token, status, expires_at FROM reservations WHERE token = ANY(${tokens}::text[])`;
    const byToken = new Map(holds.map((h) => [h.token, h]));

    const outcomes: Outcome[] = ids
      .map((id, i) => ({ id, place: Number(places[i] ?? 0), hold: byToken.get(tokens[i]!) }))
      .sort((a, b) => a.place - b.place) // back to the head in join order
      .map(({ id, hold }): Outcome => {
        if (!hold) return { id, state: "queued" };
        if (hold.status === "held") return { id, state: "reserved", expiresAt: hold.expires_at.getTime() };
        return { id, state: hold.status };
      });
    await settleBatch(ctx.redis, k, ticketTypeId, outcomes, 0, null);
  }
  return { recovered: ids.length, remaining: await ctx.redis.zcard(k.inflight) };
}
