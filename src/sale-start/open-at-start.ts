// A sale's start: its pre-queue is opened (every pre-queued person placed in a random order,
// once) by the first join after the start (join-3.lua), or here, by the processor, for a type
// nobody joins after its start. Either way open-prequeue's Lua decides, by Redis's clock, and
// runs whole: a second opener, or one of a killed instance, finds nothing to do.
import { crashPoint } from "../core/crash-points";
import type { Logger } from "../core/log";
import type { Sql } from "../store/db";
import { prequeuedKey, type Keys, type RedisClient } from "../store/redis";

/** The stores an opening uses (the processor passes its batch context). */
type Stores = { sql: Sql; redis: RedisClient; keys: (ticketTypeId: number) => Keys };

/** How often a processor looks for sales that have started: the longest a quiet opening waits. */
const LOOK_EVERY_MS = 100;
const lastLook = new Map<string, number>();

/**
 * Opens the pre-queue of every marked type (sale-start/prequeued.ts) whose sale has started, then
 * marks the type active for serving and unmarks it. At most every LOOK_EVERY_MS per active set.
 */
export async function openStartedSales(ctx: Stores, activeKey: string, log: Logger): Promise<void> {
  if (Date.now() - (lastLook.get(activeKey) ?? 0) < LOOK_EVERY_MS) return;
  lastLook.set(activeKey, Date.now());
  const marked = prequeuedKey(activeKey);
  const ids = (await ctx.redis.smembers(marked)).map(Number).filter(Number.isSafeInteger);
  if (ids.length === 0) return;
  // PostgreSQL has each start as the operator set it last (null now: on sale, open at once)
  const rows = await ctx.sql<{ id: number; sale_starts_at: Date | null }[]>`
    SELECT id, sale_starts_at FROM ticket_types WHERE id = ANY(${ids}::int[])`;
  const startOf = new Map(rows.map((r) => [r.id, r.sale_starts_at?.getTime() ?? 0]));
  for (const ticketTypeId of ids) {
    const saleStartsAt = startOf.get(ticketTypeId) ?? 0;
    if (saleStartsAt > Date.now()) continue; // not by this clock; at the start, Redis's decides
    crashPoint("sale:opening");
    const placed = await ctx.redis.scripts.openPrequeue({ keys: ctx.keys(ticketTypeId), saleStartsAt });
    if (placed < 0) continue; // Redis's clock is behind this one: next look
    crashPoint("sale:opened");
    if (placed > 0) log.info("sale started: pre-queue placed in random order", { ticket_type_id: ticketTypeId, placed });
    // also when a join opened it: nobody may have told the processors yet
    await ctx.redis.sadd(activeKey, String(ticketTypeId));
    await ctx.redis.srem(marked, String(ticketTypeId));
  }
}

/**
 * Puts PostgreSQL's start back in Redis where meta:{T} holds another (a change whose commit
 * failed after its Redis write, a Redis restored from an older copy): Redis's would otherwise
 * win over every catalog, and a sale moved earlier would wait for the old start. Rechecked
 * under the type's row lock, which a change holds from its Redis write to its commit, so a
 * change in flight is never overwritten. Returns the ids repaired.
 */
export async function repairSaleStarts(
  ctx: Stores, types: { id: number; sale_starts_at: Date | null }[],
): Promise<number[]> {
  const stored = await Promise.all(types.map((t) => ctx.redis.hget(ctx.keys(t.id).meta, "sale_starts_at")));
  const differing = types.filter((t, i) => stored[i] != null && Number(stored[i]) !== (t.sale_starts_at?.getTime() ?? 0));
  const repaired: number[] = [];
  for (const { id } of differing) {
    const meta = ctx.keys(id).meta;
    const wrote = await ctx.sql.begin(async (tx) => {
      const [row] = await tx<{ sale_starts_at: Date | null }[]>`SELECT sale_starts_at FROM ticket_types WHERE id = ${id} FOR SHARE`;
      const truth = row?.sale_starts_at?.getTime() ?? 0;
      const now = await ctx.redis.hget(meta, "sale_starts_at");
      if (!row || now === null || Number(now) === truth) return false;
      await ctx.redis.hset(meta, "sale_starts_at", truth);
      return true;
    });
    if (wrote) repaired.push(id);
  }
  return repaired;
}
