// When the next held ticket of a sold-through type may come back: the earliest deadline of its
// holds, from PostgreSQL, kept a second per type. Status asks it for every queued person of a
// type with no stock, so a crowd polling costs PostgreSQL one query a second a type, not one each.
import type { Sql } from "../store/db";
import { during } from "../core/errors";
import { within } from "../core/timeout";

export type HeldReading = {
  /** The type's stock now (the catalog's may be a second old). */
  stock: number;
  /** The earliest deadline of its holds (ms), or null when none is out. */
  nextDeadline: number | null;
};

type Entry = { at: number; reading: Promise<HeldReading>; last?: HeldReading };

/** How long soon() waits for a load before it answers from the last reading. */
const STALE_WAIT_MS = 100;

export class HeldTickets {
  private readonly entries = new Map<number, Entry>();
  /** Queries sent (tests read it). */
  loads = 0;

  constructor(
    private readonly sql: Sql,
    private readonly maxAgeMs = 1000,
  ) {}

  /**
   * The type's reading, at most maxAgeMs old; readers arriving while it loads share the load.
   * A load that fails is kept as failed for maxAgeMs too: while PostgreSQL is away, one try a
   * second a type.
   */
  reading(ticketTypeId: number): Promise<HeldReading> {
    const entry = this.entries.get(ticketTypeId);
    if (entry && Date.now() - entry.at < this.maxAgeMs) return entry.reading;
    const reading = this.load(ticketTypeId);
    const next: Entry = { at: Date.now(), reading, last: entry?.last };
    this.entries.delete(ticketTypeId); // re-inserted last: the oldest entries come first
    this.entries.set(ticketTypeId, next);
    reading.then((got) => (next.last = got), () => {});
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value!); // ids from old events
    return reading;
  }

  /** As reading(), but a status answer must not stall: past STALE_WAIT_MS, the last reading (or none). */
  async soon(ticketTypeId: number): Promise<HeldReading | undefined> {
    const reading = this.reading(ticketTypeId);
    return (await within(STALE_WAIT_MS, reading.catch(() => undefined), () => undefined)) ?? this.entries.get(ticketTypeId)?.last;
  }

  private async load(ticketTypeId: number): Promise<HeldReading> {
    this.loads++;
    const [row] = await during("PostgreSQL", () => this.sql`
      SELECT t.stock, h.next_deadline
      FROM ticket_types t LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
      WHERE t.id = ${ticketTypeId}`);
    if (!row) return { stock: 0, nextDeadline: null };
    return { stock: Number(row.stock), nextDeadline: row.next_deadline ? (row.next_deadline as Date).getTime() : null };
  }
}
