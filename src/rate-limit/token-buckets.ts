// One token bucket per client for one kind of request, in memory shared by the instance's HTTP
// threads (a SharedTable: see there). A bucket holds up to `burst` tokens and refills
// `perMinute`; a request takes one or waits.
//
// Memory is the table's, fixed: BUCKET_SLOTS clients a kind at most, 32 bytes each (4 MiB a
// kind). No timer and no generations: a client not found takes over the fullest bucket among
// those it may have (one full again, idle long enough, is forgotten at no cost); only when all
// of them are still refilling (a flood of distinct clients) is one forgotten early, and that
// forgets in the clients' favour.
import type { Rate } from "../config/config";
import { SharedTable } from "./shared-table";

/** Clients a kind at most (a power of two). */
export const BUCKET_SLOTS = 2 ** 17;
/** Per slot: lock, fingerprint (2), padding, then the tokens and the time (Float64s). */
const SLOT_INTS = 8;
const TOKENS = 2; // Float64 index from the slot's start
const AT = 3;

/** Milliseconds since 1970 in every thread alike (performance.now() counts from each thread's start). */
export const sharedClock = () => performance.timeOrigin + performance.now();

export class TokenBuckets {
  private readonly table: SharedTable;
  private readonly floats: Float64Array;
  private readonly perMs: number;
  /** The time of the take under way (the table's callbacks read it). */
  private time = 0;

  /** A table's memory, for `new TokenBuckets` in each thread. */
  static memory(slots = BUCKET_SLOTS): SharedArrayBuffer {
    return SharedTable.create(slots, SLOT_INTS);
  }

  constructor(
    private readonly rate: Rate,
    memory: SharedArrayBuffer = TokenBuckets.memory(),
    private readonly now: () => number = sharedClock,
  ) {
    this.table = new SharedTable(memory, SLOT_INTS);
    this.floats = new Float64Array(memory);
    this.perMs = rate.perMinute / 60_000;
  }

  /** 0 when the request may go ahead (it took a token); otherwise the whole seconds (>= 1) until one is there. */
  take(client: string): number {
    this.time = this.now();
    return this.table.use(client, this.level, this.takeFrom) ?? 0; // undefined never happens: any bucket may be taken over
  }

  /** A bucket's tokens as of now: how little forgetting it would cost. */
  private readonly level = (base: number): number => {
    const f = base / 2;
    const elapsed = Math.max(0, this.time - this.floats[f + AT]!);
    return Math.min(this.rate.burst, this.floats[f + TOKENS]! + elapsed * this.perMs);
  };

  private readonly takeFrom = (base: number, fresh: boolean): number => {
    const f = base / 2;
    const tokens = fresh ? this.rate.burst : this.level(base);
    this.floats[f + AT] = this.time;
    if (tokens >= 1) {
      this.floats[f + TOKENS] = tokens - 1;
      return 0;
    }
    this.floats[f + TOKENS] = tokens; // the same level, written as of now: a refusal takes nothing
    return Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  };
}
