// Gauges read when scraped, in the main thread: per ticket type the people queued (Redis),
// the stock and the tickets held (PostgreSQL); and, in every HTTP thread, its open streams. The
// stores are read at most once a second, whoever scrapes, so a scrape storm costs them nothing
// more; while a store does not answer, the last reading stays (a scrape never fails for it).
import { Gauge } from "prom-client";
import type { Sql } from "../store/db";
import type { Keys, RedisClient } from "../store/redis";
import type { Metrics } from "./metrics";

/** What the sale's figures are read from. */
type Stores = { metrics: Metrics; sql: Sql; redis: RedisClient; keys: (ticketTypeId: number) => Keys };
import { within } from "../core/timeout";

/** A reading this young is served again instead of asking the stores. */
export const FIGURES_MAX_AGE_MS = 1000;
/** How long a scrape waits for the stores before serving the last reading. */
const READ_TIMEOUT_MS = 1000;

type Figures = { id: number; stock: number; held: number; queued: number | null };

export function watchSaleFigures(s: Stores): void {
  const registers = [s.metrics.registry];
  let figures: Figures[] = [];
  let readAt = 0;
  let reading: Promise<void> | null = null;
  const fresh = (): Promise<void> => {
    if (Date.now() - readAt < FIGURES_MAX_AGE_MS) return Promise.resolve();
    reading ??= within(READ_TIMEOUT_MS, readFigures(s), () => {
      throw new Error("figures took too long");
    })
      .then((read) => void (figures = read), (err) => s.metrics.failed(err))
      .finally(() => {
        readAt = Date.now(); // a failed reading is not retried within the second either
        reading = null;
      });
    return reading;
  };
  const perType = (name: string, help: string, pick: (f: Figures) => number | null) =>
    new Gauge({
      name, help, labelNames: ["ticket_type"], registers,
      async collect() {
        await fresh();
        this.reset(); // a type gone from the database leaves the scrape
        for (const f of figures) {
          const value = pick(f);
          if (value !== null) this.set({ ticket_type: String(f.id) }, value);
        }
      },
    });
  perType("ticketqueue_people_queued", "entries in a ticket type's queue (LLEN; may include places given back and not yet reached)", (f) => f.queued);
  perType("ticketqueue_stock", "a ticket type's tickets on sale now (PostgreSQL)", (f) => f.stock);
  perType("ticketqueue_held", "a ticket type's tickets in outstanding holds (PostgreSQL)", (f) => f.held);
}

/** The streams this thread holds open; every HTTP thread has its own, and a scrape sums them. */
export function countOpenStreams(s: { metrics: Metrics; streams: { size: number } }): void {
  new Gauge({
    name: "ticketqueue_open_streams", help: "live status streams (GET /reservation/stream) open on this instance",
    registers: [s.metrics.registry],
    collect() {
      this.set(s.streams.size);
    },
  });
}

async function readFigures(s: Stores): Promise<Figures[]> {
  // held: held_tickets (sql/0011) reads the held holds alone, never a scan of all
  const rows = await s.sql<{ id: number; stock: number; held: number }[]>`
    SELECT t.id, t.stock, coalesce(h.tickets, 0)::int AS held
    FROM ticket_types t LEFT JOIN held_tickets h ON h.ticket_type_id = t.id
    ORDER BY t.id`;
  // one LLEN a type (each key in its own slot on a cluster); Redis down: PostgreSQL's figures alone
  const queued = await Promise.all(rows.map((r) => s.redis.llen(s.keys(r.id).queue))).catch((err) => {
    s.metrics.failed(err);
    return null;
  });
  return rows.map((r, i) => ({ ...r, queued: queued?.[i] ?? null }));
}
