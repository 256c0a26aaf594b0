// Step 3 of a batch: Redis learns what PostgreSQL decided (settle-4.lua).
import type { Keys, RedisClient } from "../store/redis";
import type { Decision } from "../store/scripts";
import { SETTLE_CODES, type SettledState } from "../domain/states";

export type { Decision } from "../store/scripts";
/** What settling may decide for a person (src/domain/states.ts owns the words). */
export type SettleState = SettledState;
/** What one person of a batch gets, in batch order. */
export type Outcome = { state: SettleState; expiresAt?: number };

/** Everyone in a batch of `size` holds until `deadline`: the common case, with no work per person. */
export const allReserved = (size: number, deadline: number): Decision => ({
  codes: SETTLE_CODES.reserved.repeat(size), deadline, overrides: [],
});

/** Everyone in a batch of `size` goes back to the head of the queue, in order. */
export const allQueued = (size: number): Decision => ({ codes: SETTLE_CODES.queued.repeat(size), deadline: null, overrides: [] });

export function encode(outcomes: Outcome[]): Decision {
  const deadline = outcomes.find((o) => o.state === "reserved")?.expiresAt ?? null;
  return {
    codes: outcomes.map((o) => SETTLE_CODES[o.state]).join(""),
    deadline,
    // recovered holds may each have their own deadline
    overrides: outcomes.flatMap((o, i) => (o.state === "reserved" && o.expiresAt !== deadline ? [i + 1, o.expiresAt!] : [])),
  };
}

export type SettleOptions = {
  /** The last place that is done with (0 leaves it). */
  served: number;
  /** Grants per second lately, for estimated waits (null leaves it). */
  rate: number | null;
};

/** Returns how many people went back to the head of the queue, or -1 when the batch was no longer in flight. */
export function settleBatch(
  redis: RedisClient, k: Keys, batchId: string, decision: Decision, { served, rate }: SettleOptions,
): Promise<number> {
  return redis.scripts.settle({ keys: k, batchId, decision, served, rate });
}
