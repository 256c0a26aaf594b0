// One token bucket per client for one kind of request, in memory (limits are per instance).
// A bucket holds up to `burst` tokens and refills `perMinute`; a request takes one or waits.
//
// Memory stays bounded without a timer or a per-request reorder: buckets live in two
// generations. Every `idleMs` (the time an empty bucket takes to refill) the current map
// becomes the previous one and the previous one is dropped; a bucket used meanwhile moves
// back to the current map. A dropped bucket was idle for a whole generation, so it was full
// again: forgetting it changes nothing. Only a flood of distinct clients (the current map
// reaching `maxClients`) turns generations early, and that forgets in the clients' favour.
import type { Rate } from "../config";

type Bucket = { tokens: number; at: number };

export class TokenBuckets {
  private current = new Map<string, Bucket>();
  private previous = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly idleMs: number;
  private turnAt: number;

  constructor(
    private readonly rate: Rate,
    private readonly maxClients = 100_000,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.perMs = rate.perMinute / 60_000;
    this.idleMs = Math.max(1000, rate.burst / this.perMs);
    this.turnAt = this.now() + this.idleMs;
  }

  /** 0 when the request may go ahead (it took a token); otherwise the whole seconds (>= 1) until one is there. */
  take(client: string): number {
    const now = this.now();
    if (now >= this.turnAt || this.current.size >= this.maxClients) this.turn(now);
    let bucket = this.current.get(client);
    if (bucket === undefined) {
      bucket = this.previous.get(client) ?? { tokens: this.rate.burst, at: now };
      this.current.set(client, bucket);
    }
    const tokens = Math.min(this.rate.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (tokens >= 1) {
      bucket.tokens = tokens - 1;
      return 0;
    }
    bucket.tokens = tokens; // the same level, written as of now: a refusal takes nothing
    return Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  }

  /** Clients remembered (both generations; one may be counted twice). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  private turn(now: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.turnAt = now + this.idleMs;
  }
}
