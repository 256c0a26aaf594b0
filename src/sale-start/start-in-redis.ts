// A ticket type's sale start, as the operator last set it, written to Redis (meta:{T}, field
// sale_starts_at) before the change answers. join-3.lua and open-prequeue-3.lua read it there
// over their caller's catalog, which may be a second old on another instance: a start moved
// ahead can no longer be opened early by a join through an instance that has not heard.
import { during } from "../core/errors";
import type { KeysOf, RedisClient } from "../store/redis";

/** `saleStartsAt`: ISO 8601, or null for on sale now (written as 0, so no older start wins). */
export async function publishSaleStart(s: { redis: RedisClient; keys: KeysOf }, ticketTypeId: number, saleStartsAt: string | null): Promise<void> {
  const ms = saleStartsAt === null ? 0 : Date.parse(saleStartsAt);
  await during("Redis", () => s.redis.hset(s.keys(ticketTypeId).meta, "sale_starts_at", ms));
}
