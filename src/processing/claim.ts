// Step 1 of a batch: take people off the head of the queue (claim-3.lua).
import type { Keys, RedisClient } from "../redis";
import { HOLD_GRACE_MS } from "../timing";

export type Person = { id: string; userId: string; quantity: number; place: number };
export type Claim =
  | { kind: "busy" }
  | { kind: "empty" }
  | { kind: "claimed"; epoch: number; people: Person[] };

export async function claimBatch(
  redis: RedisClient, k: Keys, ticketTypeId: number, size: number, holdSeconds: number,
): Promise<Claim> {
  const pendingTtlMs = holdSeconds * 1000 + HOLD_GRACE_MS;
  const reply = (await redis.tqClaim(
    k.queue, k.inflight, k.meta,
    size, Date.now(), k.recordPrefix, k.mappingPrefix, pendingTtlMs, ticketTypeId,
  )) as string[];
  if (reply[0] === "busy" || reply[0] === "empty") return { kind: reply[0] };
  const people: Person[] = [];
  for (let i = 2; i < reply.length; i += 4) {
    people.push({ id: reply[i]!, userId: reply[i + 1]!, quantity: Number(reply[i + 2]), place: Number(reply[i + 3]) });
  }
  return { kind: "claimed", epoch: Number(reply[1]), people };
}
