// After PostgreSQL ended holds, Redis follows: one finish-2.lua call per ticket type.
import type { Finished } from "../store/scripts";
import type { Sql } from "../store/db";
import type { Logger } from "../core/log";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Metrics } from "../metrics/metrics";
import { tokenIdOf } from "../domain/tokens";

export type Ended = { token: string; ticketTypeId: number; state: Finished["state"]; bookingId?: number | null; bookingRef?: string | null };

/** What confirming or releasing a hold uses: PostgreSQL ends it, Redis follows, the log and the counts. */
export type HoldDeps = { sql: Sql; redis: RedisClient; keys: KeysOf; log: Logger; metrics: Metrics };

export async function finishInRedis(s: { redis: RedisClient; keys: KeysOf }, ended: Ended[]): Promise<void> {
  const byType = Map.groupBy(ended, (e) => e.ticketTypeId);
  await Promise.all(
    [...byType].map(([ticketTypeId, entries]) =>
      s.redis.scripts.finish({
        keys: s.keys(ticketTypeId),
        ended: entries.map((e) => ({ id: tokenIdOf(e.token), state: e.state, bookingId: e.bookingId, bookingRef: e.bookingRef })),
      })),
  );
}

/** Redis is only a mirror here: when it is down the answer stands and reconciliation catches up. */
export async function finishQuietly(s: { redis: RedisClient; keys: KeysOf; log: Logger }, ended: Ended[]): Promise<void> {
  try {
    await finishInRedis(s, ended);
  } catch (err) {
    s.log.warn("could not tidy redis after ending holds; the cleaner will", { error: err });
  }
}
