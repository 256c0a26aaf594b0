// Step 1 of a batch: take people off the head of the queue (claim-3.lua). The batch comes
// back as text, a line per person, which goes to PostgreSQL as it is: the processor does no
// work per person unless someone cannot be served.
import type { Keys, RedisClient } from "../redis";

export type Person = { token: string; userId: string; quantity: number; place: number };
export type Claimed = {
  kind: "claimed";
  batchId: string;
  epoch: number;
  /** How many entries came off the list (some may have left the queue already). */
  popped: number;
  /** How many people the batch holds. */
  size: number;
  /** "<token>\t<user id>\t<quantity>\t<place>" per person, in queue order. */
  lines: string;
};
export type Claim = { kind: "busy" } | { kind: "empty" } | Claimed;

let batches = 0;
const newBatchId = () => `${Date.now()}-${process.pid}-${++batches}-${Math.random().toString(36).slice(2, 8)}`;

/** `owned`: the caller's batches of this type in flight (claimed, settle not yet sent). */
export async function claimBatch(
  redis: RedisClient, k: Keys, size: number, owned: Iterable<string> = [],
): Promise<Claim> {
  const batchId = newBatchId();
  const reply = (await redis.tqClaim(
    k.queue, k.inflight, k.meta,
    size, Date.now(), k.recordPrefix, batchId, [...owned].join(","),
  )) as string;
  if (reply === "busy" || reply === "empty") return { kind: reply };
  const newline = reply.indexOf("\n");
  const header = newline < 0 ? reply : reply.slice(0, newline);
  const lines = newline < 0 ? "" : reply.slice(newline + 1);
  const [epoch, popped] = header.split(" ").map(Number);
  const taken = lines === "" ? 0 : countLines(lines);
  return { kind: "claimed", batchId, epoch: epoch!, popped: popped!, size: taken, lines };
}

/** The people of a batch, for the rare paths that look at them one by one. */
export function peopleOf(batch: Claimed): Person[] {
  if (batch.size === 0) return [];
  return batch.lines.split("\n").map((line) => {
    const [token, userId, quantity, place] = line.split("\t");
    return { token: token!, userId: userId!, quantity: Number(quantity), place: Number(place) };
  });
}

/** The place of the batch's last person: everyone up to it is done with once all hold. */
export function lastPlace(batch: Claimed): number {
  return batch.size === 0 ? 0 : Number(batch.lines.slice(batch.lines.lastIndexOf("\t") + 1));
}

function countLines(text: string): number {
  let count = 1;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) count++;
  return count;
}
