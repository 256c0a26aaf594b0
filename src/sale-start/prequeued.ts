// Joins tell the processors which ticket types may have a pre-queue to open at their sale's
// start (sale-start/open-at-start.ts opens it when nobody joins after the start). The type goes
// on the set before any join can pre-queue for it, so a crash between the two leaves at most
// a name with nothing to open, never a pre-queue nobody opens.
import { prequeuedKey, type RedisClient } from "../store/redis";

/** Once marked, an instance marks a type again only after this long (Redis may have lost the set). */
const REMARK_MS = 10_000;
/**
 * A start further back than this has been handled: pre-queueing needs Redis's clock to be
 * before the start, so only a clock this far behind Redis's could still pre-queue for it.
 */
const STARTED_LONG_AGO_MS = 60_000;

const marked = new Map<string, number>();

export async function markPrequeued(s: { redis: RedisClient; activeKey: string }, ticketTypeId: number, saleStartsAt: number): Promise<void> {
  if (saleStartsAt === 0 || saleStartsAt < Date.now() - STARTED_LONG_AGO_MS) return;
  const key = prequeuedKey(s.activeKey);
  const memo = `${key}\u0000${ticketTypeId}\u0000${saleStartsAt}`;
  if (Date.now() - (marked.get(memo) ?? -Infinity) < REMARK_MS) return;
  await s.redis.sadd(key, String(ticketTypeId));
  marked.set(memo, Date.now());
}
