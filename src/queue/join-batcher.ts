// Joins of one ticket type that arrive in the same event-loop turn go to Redis as one
// join-3.lua call: under a crowd, ioredis' cost per command (command object, timeout timer,
// encoding, socket write) was about 40% of the service's CPU, and Redis pays per call too.
import type { JoinReply } from "../store/formats";
import type { Join } from "../store/scripts";
import type { KeysOf, RedisClient } from "../store/redis";

/** What a join that did not fail in the script got. */
export type JoinOutcome = Exclude<JoinReply, { kind: "error" }>;

/** What join-3.lua needs to know of the ticket type, as the catalog has it. */
export type TypeTerms = { perUserLimit: number; saleStartsAt: number };

type Pending = Join & TypeTerms & { resolve: (answer: JoinOutcome) => void; reject: (err: unknown) => void };

/**
 * Most joins per call: Redis runs a call whole while everything else waits, at 20-30 µs a
 * join on the 2-core machine (200: 4-6 ms). Under 200 connections calls averaged about 20.
 */
const MAX_BATCH = 200;

export class JoinBatcher {
  private readonly pending = new Map<number, Pending[]>();
  private scheduled = false;

  constructor(private readonly s: { redis: RedisClient; keys: KeysOf }) {}

  /** The join's reply from join-3.lua; rejects with the call's error if the call fails, or with the join's own. */
  join(ticketTypeId: number, terms: TypeTerms, person: Join): Promise<JoinOutcome> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(ticketTypeId);
      if (!batch) this.pending.set(ticketTypeId, (batch = []));
      batch.push({ ...person, ...terms, resolve, reject });
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
      // joins of one turn see one limit and sale start (an operator's change a moment later shows next turn)
      const { perUserLimit, saleStartsAt } = batch[0]!;
      const replies = await this.s.redis.scripts.join({
        keys: this.s.keys(ticketTypeId), perUserLimit, saleStartsAt, joins: batch,
      });
      batch.forEach((j, i) => {
        const reply = replies[i]!;
        // one join that failed in the script fails alone (join-3.lua runs each under pcall)
        if (reply.kind === "error") j.reject(new Error(`join-3.lua: ${reply.message}`));
        else j.resolve(reply);
      });
    } catch (err) {
      for (const j of batch) j.reject(err);
    }
  }
}
