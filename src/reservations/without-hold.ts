// Confirm and release of a token PostgreSQL has no hold for (or has one they cannot act on):
// Redis says where the token stands, src/domain/states.ts what that answers.
import { AppError, during, RETRY_AFTER_SECONDS } from "../core/errors";
import type { KeysOf, RedisClient } from "../store/redis";
import { storedState, type Refusal, type TokenState } from "../domain/states";
import type { TokenParts } from "../domain/tokens";

/** The state of the token's Redis record; lost when Redis has none (or a word it should not hold). */
export async function redisState(s: { redis: RedisClient; keys: KeysOf }, parts: TokenParts): Promise<TokenState> {
  const k = s.keys(parts.ticketTypeId);
  return storedState(await during("Redis", () => s.redis.hget(k.record(parts.id), "state"))) ?? "lost";
}

/** The error for a token in `state`, from confirm's or release's table; a state the table lacks reads as lost. */
export function refusal<S extends string>(table: Record<S, Refusal> & { lost: Refusal }, state: TokenState): AppError {
  return refusalError((table as Record<string, Refusal>)[state] ?? table.lost);
}

/** A refusal as the error answered. */
export function refusalError(r: Refusal): AppError {
  return new AppError(r.status, r.code, r.message, r.retryAfter ? { "retry-after": String(RETRY_AFTER_SECONDS) } : {});
}
