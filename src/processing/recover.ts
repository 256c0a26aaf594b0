// Recovery of batches whose processor died between claim and settle (docs/ARCHITECTURE.md "How it works",
// step 2): PostgreSQL says who got a hold; everyone else goes back to the head of the queue, in order.
import { decisionOf, parseInflightEntry, type Outcome } from "../store/formats";
import type { BatchContext } from "./batch";
import { HOLD_STATES, type HoldStatus } from "../domain/states";

export type RecoverContext = Pick<BatchContext, "sql" | "redis" | "tokens" | "keys">;

/**
 * Recovers the batches of a ticket type claimed at least `olderThanMs` ago. Returns how many
 * tokens it recovered and how many batches are still in flight (younger ones, left alone).
 */
export async function recoverInflight(
  ctx: RecoverContext, ticketTypeId: number, olderThanMs: number,
): Promise<{ recovered: number; remaining: number }> {
  const k = ctx.keys(ticketTypeId);
  const cutoff = Date.now() - olderThanMs;
  const stale = Object.entries(await ctx.redis.hgetall(k.inflight))
    .map(([batchId, entry]) => ({ batchId, ...parseInflightEntry(entry) }))
    .filter((b) => b.claimedAt <= cutoff);
  // Latest in the queue first: each puts its unserved back at the head, so the earliest ends up
  // in front. The batches in flight were claimed one after another off the head, so their
  // first places order them; two claimed in the same millisecond tie on the claim time.
  const firstPlaces = await Promise.all(stale.map((b) => ctx.redis.hget(k.record(b.ids[0]!), "place")));
  const order = stale.map((batch, i) => ({ batch, place: Number(firstPlaces[i] ?? 0) }));
  order.sort((a, b) => b.place - a.place || b.batch.claimedAt - a.batch.claimedAt);

  let recovered = 0;
  for (const { batch } of order) {
    const tokens = batch.ids.map((id) => ctx.tokens.sign(ticketTypeId, id));
    const holds = await ctx.sql<{ token: string; status: HoldStatus; expires_at: Date }[]>`
      SELECT token, status, expires_at FROM reservations WHERE token = ANY(${tokens}::text[])`;
    const byToken = new Map(holds.map((h) => [h.token, h]));
    const outcomes = tokens.map((token): Outcome => {
      const hold = byToken.get(token);
      if (!hold) return { state: "queued" };
      return { state: HOLD_STATES[hold.status], expiresAt: hold.expires_at.getTime() };
    });
    const back = await ctx.redis.scripts.settle({ keys: k, batchId: batch.batchId, decision: decisionOf(outcomes), served: 0, rate: null });
    if (back >= 0) recovered += batch.ids.length;
  }
  return { recovered, remaining: await ctx.redis.hlen(k.inflight) };
}
