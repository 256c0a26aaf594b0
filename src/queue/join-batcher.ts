// Joins of one ticket type that arrive in the same event-loop turn go to Redis as one
// join-3.lua call: under a crowd, ioredis' cost per command (command object, timeout timer,
// encoding, socket write) was about 40% of the service's CPU, and Redis pays per call too.
import type { Keys } from "../redis";
import type { Services } from "../services";
import { PLACE_TTL_SECONDS } from "../timing";

export type Join = { id: string; userId: string; quantity: number; token: string };

/** The keys and arguments of one join-3.lua call (the bench and tests call it too). */
export function joinScriptArgs(k: Keys, ticketTypeId: number, perUserLimit: number, joins: Join[]): (string | number)[] {
  const args: (string | number)[] = [k.queue, k.meta, k.bought, PLACE_TTL_SECONDS, Date.now(), k.recordPrefix, k.userPrefix,
    k.mappingPrefix, k.batchPrefix, ticketTypeId, perUserLimit];
  for (const j of joins) args.push(j.id, j.userId, j.quantity, j.token);
  return args;
}

type Pending = Join & { perUserLimit: number; resolve: (answer: string) => void; reject: (err: unknown) => void };

/**
 * Most joins per call: Redis runs a call whole while everything else waits, at 20-30 µs a
 * join on the 2-core machine (200: 4-6 ms). Under 200 connections calls averaged about 20.
 */
const MAX_BATCH = 200;

export class JoinBatcher {
  private readonly pending = new Map<number, Pending[]>();
  private scheduled = false;

  constructor(private readonly s: Services) {}

  /** The join's line of join-3.lua's answer; rejects with the call's error if the call fails. */
  join(ticketTypeId: number, perUserLimit: number, person: Join): Promise<string> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(ticketTypeId);
      if (!batch) this.pending.set(ticketTypeId, (batch = []));
      batch.push({ ...person, perUserLimit, resolve, reject });
      if (batch.length >= MAX_BATCH) {
        this.pending.delete(ticketTypeId);
        this.send(ticketTypeId, batch);
      } else if (!this.scheduled) {
        // setImmediate runs once the requests read in this turn have all reached here.
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = () => {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [ticketTypeId, batch] of batches) this.send(ticketTypeId, batch);
  };

  /** Settles every join of the batch, whatever happens: none may wait forever. */
  private async send(ticketTypeId: number, batch: Pending[]): Promise<void> {
    try {
      // joins of one turn see one limit (an operator's change a moment later shows next turn)
      const limit = batch[0]!.perUserLimit;
      const reply = await this.s.redis.tqJoin(...joinScriptArgs(this.s.keys(ticketTypeId), ticketTypeId, limit, batch));
      const lines = typeof reply === "string" ? reply.split("\n") : [];
      if (lines.length !== batch.length) throw new Error(`join-3.lua answered ${lines.length} lines for ${batch.length} joins`);
      batch.forEach((j, i) => {
        const line = lines[i]!;
        // one join that failed in the script fails alone (join-3.lua runs each under pcall)
        if (line.startsWith("error\t")) j.reject(new Error(`join-3.lua: ${line.slice(6)}`));
        else j.resolve(line);
      });
    } catch (err) {
      for (const j of batch) j.reject(err);
    }
  }
}
