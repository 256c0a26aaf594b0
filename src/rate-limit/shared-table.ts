// A fixed-size table of per-client slots in a SharedArrayBuffer, so that every HTTP thread of an
// instance counts a client in the same place. The main thread makes the buffer; each HTTP thread
// is handed it at start and wraps it in its own SharedTable.
//
// Open addressing: a client's key hashes (two 32-bit hashes, seeded at random per table, so
// that no one can work out keys that collide) to a home slot and a fingerprint. It lives in the
// first slot of the PROBE slots from its home that holds its fingerprint; slots are never
// emptied again, only taken over. A client not found takes the first empty slot, or else the
// one `vacancy` scores highest (a bucket full again: forgetting it changes nothing). Each slot
// has a spin lock (Atomics.compareExchange) held only while its few numbers are read and
// written. Two threads finding the same new client at the same moment may, when its slots are
// all taken, each give it a slot: a rare double count in the client's favour.

/** Slots looked at from a client's home slot. */
const PROBE = 8;
/** Int32s before the slots: the two hash seeds, then padding to 16 bytes. */
const HEADER_INTS = 4;
/** Each slot starts with its lock and the fingerprint's two halves; the caller's numbers follow. */
const LOCK = 0;
const FP_A = 1;
const FP_B = 2;
/** Spins on a held lock before sleeping a moment (its holder may have been descheduled). */
const SPINS = 1000;

export class SharedTable {
  readonly ints: Int32Array;
  readonly slots: number;
  private readonly mask: number;
  private readonly seedA: number;
  private readonly seedB: number;

  /** A new table's memory: `slots` (a power of two) of `slotInts` Int32s (a power of two, 4 or more). */
  static create(slots: number, slotInts: number): SharedArrayBuffer {
    if (!Number.isInteger(Math.log2(slots)) || !Number.isInteger(Math.log2(slotInts)) || slotInts < 4) {
      throw new Error("slots and slotInts must be powers of two");
    }
    const buffer = new SharedArrayBuffer((HEADER_INTS + slots * slotInts) * 4);
    crypto.getRandomValues(new Int32Array(buffer, 0, 2));
    return buffer;
  }

  constructor(
    buffer: SharedArrayBuffer,
    readonly slotInts: number,
  ) {
    this.ints = new Int32Array(buffer);
    this.slots = (this.ints.length - HEADER_INTS) / slotInts;
    this.mask = this.slots - 1;
    this.seedA = this.ints[0]!;
    this.seedB = this.ints[1]!;
  }

  /** Where slot `slot`'s first own Int32 is (its lock); the caller's numbers start 4 later. */
  base(slot: number): number {
    return HEADER_INTS + slot * this.slotInts;
  }

  /**
   * Runs `use` on the client's slot, locked; `fresh` when the slot was just given to it (its
   * numbers are a former client's or zero: the caller starts them again). `vacancy` scores a
   * taken slot of another client for taking over (read without its lock: a hint), negative
   * when it must not be. Undefined when every slot the client may have is another's that must
   * not be taken over.
   */
  use<T>(key: string, vacancy: (base: number) => number, use: (base: number, fresh: boolean) => T): T | undefined {
    let a = this.seedA;
    let b = this.seedB;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    a = mix(a);
    b = mix(b) | 1; // never 0, 0: that is an empty slot
    const ints = this.ints;
    for (let attempt = 0; attempt < 4; attempt++) {
      let best = -1;
      let bestScore = -1;
      let seenA = 0;
      let seenB = 0;
      let changed = false;
      for (let i = 0; i < PROBE && i < this.slots; i++) {
        const at = this.base((a + i) & this.mask);
        const fa = Atomics.load(ints, at + FP_A);
        const fb = Atomics.load(ints, at + FP_B);
        if (fa === a && fb === b) {
          this.lock(at);
          const still = ints[at + FP_A] === a && ints[at + FP_B] === b;
          const result = still ? use(at, false) : undefined;
          this.unlock(at);
          if (still) return result;
          changed = true; // taken over meanwhile: look again
          break;
        }
        if (fb === 0) {
          // empty: this client never had a slot past it
          best = at;
          seenA = seenB = 0;
          break;
        }
        const score = vacancy(at);
        if (score > bestScore) {
          best = at;
          bestScore = score;
          seenA = fa;
          seenB = fb;
        }
      }
      if (changed) continue;
      if (best < 0) return undefined; // every slot another's to keep
      this.lock(best);
      // unchanged since we looked (and still to be given up), or look again
      const free = ints[best + FP_A] === seenA && ints[best + FP_B] === seenB && (seenB === 0 || vacancy(best) >= 0);
      if (free) {
        ints[best + FP_A] = a;
        ints[best + FP_B] = b;
      }
      const result = free ? use(best, true) : undefined;
      this.unlock(best);
      if (free) return result;
    }
    return undefined;
  }

  /** Runs `use` on a slot found before, locked, if it still holds the same client. */
  reuse(base: number, fpA: number, fpB: number, use: (base: number) => void): void {
    this.lock(base);
    if (this.ints[base + FP_A] === fpA && this.ints[base + FP_B] === fpB) use(base);
    this.unlock(base);
  }

  /** The fingerprint in a slot (to find it again with reuse()). */
  fingerprint(base: number): [number, number] {
    return [this.ints[base + FP_A]!, this.ints[base + FP_B]!];
  }

  private lock(at: number): void {
    let spins = 0;
    while (Atomics.compareExchange(this.ints, at + LOCK, 0, 1) !== 0) {
      if (++spins > SPINS) {
        Atomics.wait(this.ints, at + LOCK, 1, 0.05);
        spins = 0;
      }
    }
  }

  private unlock(at: number): void {
    Atomics.store(this.ints, at + LOCK, 0);
  }
}

/** Murmur3's finaliser: every bit of the input moves every bit of the output. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
