// Events and ticket types, read from PostgreSQL and kept for a second. Joins look ticket types
// up here, so a crowd of joins costs PostgreSQL one query a second, not one each.
import type { Sql } from "../store/db";
import { during } from "../core/errors";
import { within } from "../core/timeout";
import type { Event, TicketType } from "../api/schemas";

type Snapshot = { at: number; events: Event[]; byId: Map<number, TicketType> };

/** The shortest time between two reloads for unknown ticket type ids. */
const MISS_RELOAD_MS = 100;
/**
 * How old a snapshot's "sold out" may be and still be told to a joiner. Past it the answer
 * waits for a reload (shared by every reader meanwhile): a flood of joins for a sold-out type
 * costs PostgreSQL about ten catalog reads a second.
 */
const SOLD_OUT_TRUST_MS = 100;
/** How long ticketTypeSoon() waits for a reload before it answers from the stale reading. */
const STALE_WAIT_MS = 100;

export class Catalog {
  private snapshot: Snapshot | null = null;
  private loading: Promise<Snapshot> | null = null;
  /** The next load for unknown ids, not started yet (misses join it), and the one under way. */
  private missReload: Promise<Snapshot> | null = null;
  private missLoading: Promise<Snapshot> | null = null;
  private missLoadedAt = -Infinity;
  /** Bumped by invalidate(): a load that started before it does not become the snapshot. */
  private generation = 0;

  constructor(
    private readonly sql: Sql,
    private readonly maxAgeMs = 1000,
    /** The pre-queue's length (config PREQUEUE_MINUTES): GET /events tells when a waiting line opens. */
    private readonly prequeueMinutes = 0,
  ) {}

  /** Events with their ticket types; about maxAgeMs old at most, older while PostgreSQL is down. */
  async events(): Promise<Event[]> {
    return (await this.fresh()).events;
  }

  /**
   * A ticket type by id; an id not seen yet triggers a reload, so new types show up at once.
   * "Sold out" is trusted for SOLD_OUT_TRUST_MS only: whoever hears it goes away, and an
   * operator may have raised the capacity meanwhile on another instance (the one that made
   * the change has invalidated its own snapshot already).
   */
  async ticketType(id: number): Promise<TicketType | undefined> {
    const snapshot = await this.fresh();
    const type = snapshot.byId.get(id);
    if (!type) return (await this.reloadForMiss(snapshot)).byId.get(id);
    if (type.status !== "sold_out" || Date.now() - snapshot.at <= SOLD_OUT_TRUST_MS) return type;
    try {
      return (await this.reload()).byId.get(id) ?? type;
    } catch {
      return type; // stale beats nothing while PostgreSQL is away
    }
  }

  /**
   * A ticket type for an answer that must not stall while PostgreSQL is away (status's
   * paused): as ticketType() while the reading is fresh or comes within STALE_WAIT_MS; past
   * that, the stale reading (the reload carries on for the next reader).
   */
  async ticketTypeSoon(id: number): Promise<TicketType | undefined> {
    const current = this.snapshot;
    if (current && Date.now() - current.at < this.maxAgeMs) return this.ticketType(id);
    const reading = this.ticketType(id);
    reading.catch(() => {}); // it may fail after the stale answer went out
    return (await within(STALE_WAIT_MS, reading, () => undefined)) ?? current?.byId.get(id);
  }

  /**
   * Forgets the snapshot's freshness after a change made here (the admin API): the next reader
   * reloads, and a load already under way, which may predate the change, is not reused. The
   * old snapshot stays as the fallback while PostgreSQL is away.
   */
  invalidate(): void {
    this.generation++;
    if (this.snapshot) this.snapshot = { ...this.snapshot, at: 0 };
    this.loading = null;
  }

  /**
   * A reload for ids the snapshot does not know, at most one every MISS_RELOAD_MS, one at a
   * time: the misses of one window wait for it together, so a flood of unknown ids costs
   * PostgreSQL a few queries a second, not one each. It is a load of its own, started after
   * every miss that waits for it (a load already under way may predate the type just created);
   * misses during it wait for the next.
   */
  private reloadForMiss(seen: Snapshot): Promise<Snapshot> {
    if (this.missReload) return this.missReload;
    const previous = this.missLoading;
    const wait = Math.max(0, Math.max(seen.at, this.missLoadedAt) + MISS_RELOAD_MS - Date.now());
    const next: Promise<Snapshot> = Promise.all([Bun.sleep(wait), previous?.catch(() => {})]).then(() => {
      if (this.missReload === next) this.missReload = null;
      this.missLoadedAt = Date.now();
      const loading = during("PostgreSQL", () => this.load());
      this.missLoading = loading;
      loading.finally(() => this.missLoading === loading && (this.missLoading = null)).catch(() => {});
      return loading;
    });
    this.missReload = next;
    return next;
  }

  /**
   * The snapshot, never older than maxAgeMs. Past half that age it is refreshed in the
   * background, so under steady traffic readers do not wait for PostgreSQL; after a quiet
   * spell the first reader does. Stale beats nothing while PostgreSQL is away.
   */
  private async fresh(): Promise<Snapshot> {
    const current = this.snapshot;
    const age = current ? Date.now() - current.at : Infinity;
    if (age < this.maxAgeMs / 2) return current!;
    if (age < this.maxAgeMs) {
      this.reload().catch(() => {});
      return current!;
    }
    try {
      return await this.reload();
    } catch (err) {
      if (current) return current;
      throw err;
    }
  }

  /** One load at a time; callers arriving meanwhile share it. */
  private reload(): Promise<Snapshot> {
    if (this.loading) return this.loading;
    const loading: Promise<Snapshot> = during("PostgreSQL", () => this.load()).finally(() => {
      if (this.loading === loading) this.loading = null;
    });
    this.loading = loading;
    return loading;
  }

  private async load(): Promise<Snapshot> {
    const generation = this.generation;
    const [events, types] = await Promise.all([
      this.sql`
        SELECT id, name, description, venue, starts_at, currency
        FROM events ORDER BY starts_at NULLS LAST, id`,
      this.sql`
        SELECT t.id, t.event_id, t.name, t.price::float8 AS price, t.capacity, t.stock,
               t.per_user_limit, t.sale_starts_at, t.paused, t.max_active_holds, t.holds_per_minute, t.hold_seconds,
               -- sold out: no stock, no hold out (held_tickets would sum them all; the first is enough)
               CASE WHEN t.stock = 0 AND NOT EXISTS (
                 SELECT 1 FROM reservations r WHERE r.ticket_type_id = t.id AND r.status = 'held'
               ) THEN 'sold_out'
               WHEN t.sale_starts_at > now() THEN 'not_on_sale'
               WHEN t.paused THEN 'paused'
               ELSE 'on_sale' END AS status
        FROM ticket_types t ORDER BY t.id`,
    ]);
    const byId = new Map<number, TicketType>();
    const byEvent = new Map<number, TicketType[]>();
    for (const raw of types) {
      const saleStartsAt = raw.sale_starts_at ? (raw.sale_starts_at as Date).getTime() : null;
      const row = {
        ...raw,
        sale_starts_at: saleStartsAt === null ? null : new Date(saleStartsAt).toISOString(),
        prequeue_opens_at: saleStartsAt === null || this.prequeueMinutes === 0
          ? null : new Date(saleStartsAt - this.prequeueMinutes * 60_000).toISOString(),
      } as TicketType;
      byId.set(row.id, row);
      const siblings = byEvent.get(row.event_id);
      if (siblings) siblings.push(row);
      else byEvent.set(row.event_id, [row]);
    }
    const listings = events.map((e) => ({
      id: e.id,
      name: e.name,
      description: e.description,
      venue: e.venue,
      starts_at: e.starts_at ? (e.starts_at as Date).toISOString() : null,
      currency: e.currency,
      ticket_types: byEvent.get(e.id) ?? [],
    }));
    const snapshot = { at: Date.now(), events: listings, byId };
    if (generation === this.generation) this.snapshot = snapshot;
    return snapshot;
  }
}
