// Step 1 of a batch: take people off the head of the queue (claim-3.lua). The batch comes
// back as text, a line per person (lua/includes/enqueue.lua writes them), which goes to
// PostgreSQL as it is once screened: the processor does no work per person unless someone
// cannot be served.
import { parseBatchLine, screenLines, type ClaimReply, type Person } from "../store/formats";
import type { Keys, RedisClient } from "../store/redis";

export type Claimed = {
  kind: "claimed";
  batchId: string;
  epoch: number;
  /** How many entries came off the list (some may have left the queue already). */
  popped: number;
  /** How many people the batch holds. */
  size: number;
  /** A batch line per person, in queue order, each malformed one blanked (screenLines). */
  lines: string;
};
export type Claim = Exclude<ClaimReply, { kind: "claimed" }> | Claimed;

let batches = 0;
const newBatchId = () => `${Date.now()}-${process.pid}-${++batches}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * `owned`: the caller's batches of this type in flight (claimed, settle not yet sent);
 * `holdsPerMinute`: the type's ceiling on the grant rate (null: none).
 */
export async function claimBatch(
  redis: RedisClient, k: Keys, size: number, owned: Iterable<string> = [], holdsPerMinute: number | null = null,
): Promise<Claim> {
  const batchId = newBatchId();
  const reply = await redis.scripts.claim({ keys: k, size, now: Date.now(), batchId, owned, holdsPerMinute });
  if (reply.kind !== "claimed") return reply;
  return { ...reply, batchId, lines: screenLines(reply.lines) };
}

/** The people of a batch, for the rare paths that look at them one by one. */
export function peopleOf(batch: Claimed): Person[] {
  return batch.size === 0 ? [] : batch.lines.split("\n").map(parseBatchLine);
}
