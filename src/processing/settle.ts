// Step 3 of a batch: Redis learns what PostgreSQL decided (settle-4.lua).
import type { Keys, RedisClient } from "../redis";
import { ENDED_TTL_SECONDS, PLACE_TTL_SECONDS } from "../timing";

export type SettleState =
  | "reserved" | "queued" | "sold_out" | "duplicate" | "invalid" | "limit_reached" | "confirmed" | "expired" | "released";
/** What one person of a batch gets, in batch order. */
export type Outcome = { state: SettleState; expiresAt?: number };

const CODES: Record<SettleState, string> = {
  reserved: "R", queued: "Q", sold_out: "S", duplicate: "D", invalid: "I", limit_reached: "L",
  confirmed: "C", expired: "E", released: "X",
};

/** A batch's outcomes as settle-4.lua takes them: a code per person, one shared deadline, exceptions. */
export type Decision = { codes: string; deadline: number | null; overrides: number[] };

/** Everyone in a batch of `size` holds until `deadline`: the common case, with no work per person. */
export const allReserved = (size: number, deadline: number): Decision => ({
  codes: "R".repeat(size), deadline, overrides: [],
});

export function encode(outcomes: Outcome[]): Decision {
  const deadline = outcomes.find((o) => o.state === "reserved")?.expiresAt ?? null;
  return {
    codes: outcomes.map((o) => CODES[o.state]).join(""),
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
export async function settleBatch(
  redis: RedisClient, k: Keys, batchId: string, decision: Decision,
  { served, rate }: SettleOptions,
): Promise<number> {
  return (await redis.tqSettle(
    k.queue, k.inflight, k.deadlines, k.meta,
    // a batch's outcome lives as long as a queue place, so no record outlives the outcome it points at
    k.recordPrefix, k.mappingPrefix, k.userPrefix, k.batchPrefix, PLACE_TTL_SECONDS * 1000, ENDED_TTL_SECONDS, PLACE_TTL_SECONDS,
    served, rate === null ? "" : rate.toFixed(3), batchId, decision.codes, decision.deadline ?? "", ...decision.overrides,
  )) as number;
}
