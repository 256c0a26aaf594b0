// After PostgreSQL ended holds, Redis follows: one finish-2.lua call per ticket type.
import type { Services } from "../services";
import { ENDED_TTL_SECONDS } from "../timing";
import { tokenIdOf } from "../tokens";

export type Ended = {
  token: string;
  ticketTypeId: number;
  state: "confirmed" | "released" | "expired";
  bookingId?: number | null;
};

export async function finishInRedis(s: Pick<Services, "redis" | "keys">, ended: Ended[]): Promise<void> {
  const byType = Map.groupBy(ended, (e) => e.ticketTypeId);
  await Promise.all(
    [...byType].map(([ticketTypeId, entries]) => {
      const k = s.keys(ticketTypeId);
      const ids = entries.map((e) => tokenIdOf(e.token));
      const triples = entries.flatMap((e, i) => [ids[i]!, e.state, e.bookingId ?? ""]);
      return s.redis.tqFinish(k.record(ids[0]!), k.bought, k.recordPrefix, k.mappingPrefix, k.userPrefix, ENDED_TTL_SECONDS, ...triples);
    }),
  );
}

/** Redis is only a mirror here: when it is down the answer stands and reconciliation catches up. */
export async function finishQuietly(s: Services, ended: Ended[]): Promise<void> {
  try {
    await finishInRedis(s, ended);
  } catch (err) {
    s.log.warn("could not tidy redis after ending holds; the cleaner will", { error: err });
  }
}
