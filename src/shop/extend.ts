// POST /shop/holds/:token/extend: the payment is still running (3-D Secure, a bank redirect),
// so the shop moves the hold's deadline on. PostgreSQL decides in one conditional UPDATE: a
// hold still held and before its deadline, within HOLD_EXTEND_MAX_SECONDS all extensions
// together. The cleaner's expiry is conditional on the same row (expires_at <= now() under its
// lock, src/expiry/expire.ts), so a race at the deadline ends one way only: extended and never
// expired, or expired once and this answers 410. Redis follows: the record's own deadline and
// its batch's entry in the deadline index, which status and reconciliation read.
import { during, fail, failWith } from "../core/errors";
import { findHold } from "../holds/find-hold";
import { redisState, refusal } from "../reservations/without-hold";
import type { Config } from "../config/config";
import type { Sql } from "../store/db";
import type { Logger } from "../core/log";
import type { KeysOf, RedisClient } from "../store/redis";
import { CONFIRM_REFUSALS } from "../domain/states";
import type { TokenParts } from "../domain/tokens";
import type { Extension } from "../api/schemas";

// Only a record still pending (a hold Redis has not seen end) takes the new deadline; its
// batch's deadline only moves later (GT).
const FOLLOW = `
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[1])
local batch = redis.call('HGET', KEYS[1], 'batch')
if batch then redis.call('ZADD', KEYS[2], 'GT', ARGV[1], batch) end
return 1`;

export async function extendHold(s: { config: Config; sql: Sql; redis: RedisClient; keys: KeysOf; log: Logger }, parts: TokenParts, token: string, seconds: number, retried = false): Promise<Extension> {
  const max = s.config.HOLD_EXTEND_MAX_SECONDS;
  const [moved] = await during("PostgreSQL", () => s.sql<{ expires_at: Date; extended_seconds: number }[]>`
    UPDATE reservations
    SET expires_at = expires_at + make_interval(secs => ${seconds}), extended_seconds = extended_seconds + ${seconds}
    WHERE token = ${token} AND status = 'held' AND expires_at > now() AND extended_seconds + ${seconds} <= ${max}
    RETURNING expires_at, extended_seconds`);
  if (moved) {
    const k = s.keys(parts.ticketTypeId);
    try {
      await s.redis.eval(FOLLOW, 2, k.record(parts.id), k.deadlines, moved.expires_at.getTime());
    } catch (err) {
      // status falls back on PostgreSQL once the old deadline has passed
      s.log.warn("could not move a hold's deadline in redis", { error: err });
    }
    return { queue_token: token, expires_at: moved.expires_at.toISOString(), extended_seconds: moved.extended_seconds };
  }
  const hold = await findHold(s.sql, token);
  if (hold?.status === "held" && !hold.lapsed) {
    const [row] = await s.sql<{ extended_seconds: number }[]>`SELECT extended_seconds FROM reservations WHERE token = ${token}`;
    if (row && row.extended_seconds + seconds > max) {
      throw fail("extend_limit", max, max - row.extended_seconds);
    }
    // its grant committed in between: once more, then it is
    if (!retried) return extendHold(s, parts, token, seconds, true);
    throw refusal(CONFIRM_REFUSALS, "pending");
  }
  if (hold?.status === "confirmed" && hold.booking_status === "cancelled") throw refusal(CONFIRM_REFUSALS, "cancelled");
  if (hold?.status === "confirmed") {
    throw failWith({ fields: { booking_id: Number(hold.booking_id) } }, "already_confirmed");
  }
  if (hold?.status === "released") throw refusal(CONFIRM_REFUSALS, "released");
  if (hold) throw refusal(CONFIRM_REFUSALS, "expired");
  throw refusal(CONFIRM_REFUSALS, await redisState(s, parts));
}
