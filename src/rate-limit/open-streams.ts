// The live streams each client holds open, counted in memory shared by the instance's HTTP
// threads (a SharedTable: see there), so the cap holds whichever thread a stream lands on.
//
// STREAM_SLOTS clients with a stream open at most, 16 bytes each (4 MiB). A slot whose client
// has none open any more is given to the next client that needs one. A client whose every
// possible slot is held by others with streams open (the table near full) is let through
// uncounted rather than refused for others' streams.
import { SharedTable } from "./shared-table";

/** Clients with streams open at most (a power of two): twice a big sale's crowd of 100,000 on one instance. */
export const STREAM_SLOTS = 2 ** 18;
/** Per slot: lock, fingerprint (2), the count. */
const SLOT_INTS = 4;
const COUNT = 3;

export class OpenStreams {
  private readonly table: SharedTable;
  private readonly ints: Int32Array;
  /** Whether the opening under way was counted (the table's callback sets it). */
  private opened = false;

  static memory(slots = STREAM_SLOTS): SharedArrayBuffer {
    return SharedTable.create(slots, SLOT_INTS);
  }

  constructor(
    private readonly cap: number,
    memory: SharedArrayBuffer = OpenStreams.memory(),
  ) {
    this.table = new SharedTable(memory, SLOT_INTS);
    this.ints = this.table.ints;
  }

  /**
   * Counts a stream the client opens and returns the function that counts it closed (safe to
   * call more than once); null when the client already holds its cap (nothing counted).
   */
  open(client: string): (() => void) | null {
    this.opened = false;
    const base = this.table.use(client, this.vacancy, this.count);
    if (base === undefined) return () => {}; // no slot to count it in: let through
    if (!this.opened) return null;
    const [fpA, fpB] = this.table.fingerprint(base);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.table.reuse(base, fpA, fpB, (at) => void (this.ints[at + COUNT] = Math.max(0, this.ints[at + COUNT]! - 1)));
    };
  }

  /** Only a slot with no stream open may go to another client. */
  private readonly vacancy = (base: number): number => (Atomics.load(this.ints, base + COUNT) === 0 ? 1 : -1);

  private readonly count = (base: number, fresh: boolean): number => {
    const open = fresh ? 0 : this.ints[base + COUNT]!;
    if (open < this.cap) {
      this.ints[base + COUNT] = open + 1;
      this.opened = true;
    } else if (fresh) {
      this.ints[base + COUNT] = 0;
    }
    return base;
  };
}
