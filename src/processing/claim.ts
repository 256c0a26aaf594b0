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
  return { kind: "claimed", batchId, epoch: epoch!, popped: popped!, size: taken, lines: screenLines(lines) };
}

/** A line as join-3.lua writes it: a signed token, a user id, a quantity and a place. */
const WELL_FORMED = /^[A-Za-z0-9_-]{48}\t[^\x00-\x1f\x7f-\x9f]+\t[1-9][0-9]{0,5}\t[1-9][0-9]{0,17}$/;
/** What a malformed line becomes: no token, which the grant refuses alone as invalid. */
export const MALFORMED_LINE = "\t\t\t";

/**
 * The batch's lines with each one that is not well formed (a damaged record) replaced by
 * MALFORMED_LINE, so that PostgreSQL can trust the rest (no cast in the grant can fail) and
 * that person alone is refused. About 0.2 ms for 2000 lines, off the grant's critical path.
 */
export function screenLines(lines: string): string {
  if (lines === "") return lines;
  const all = lines.split("\n");
  let damaged = false;
  for (let i = 0; i < all.length; i++) {
    if (WELL_FORMED.test(all[i]!)) continue;
    all[i] = MALFORMED_LINE;
    damaged = true;
  }
  return damaged ? all.join("\n") : lines;
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
