// The figures one thread counts, in its own prom-client registry: the main thread (HTTP, joins,
// confirms, releases), the processor (holds granted, batch timings) and the cleaner (expiries,
// its lag). Every thread defines every metric here; GET /metrics sums the threads' registries
// (src/metrics/scrape.ts), so each is counted where its event really happens and appears once.
// Labels are bounded: ticket type ids, dependencies, threads; never a user id or a token.
import { ReplyError } from "ioredis";
import postgres from "postgres";
import { Counter, Histogram, Registry } from "prom-client";
import type { Thread } from "../config/config";
import { outageOf, type Dependency } from "../core/errors";
import { HttpMetrics } from "./http";
import { mergedText, type MetricsJson } from "./scrape";


const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const PEOPLE = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10_000];
const LAG_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
// an event's delivery: milliseconds when all is well, hours through the retry schedule
const DELIVERY_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36_000, 86_400];

/**
 * A counter by ticket type. A count is one Map update (joins count on the hot path): prom-client's
 * own inc() builds a label hash each time (0.2-0.6 µs here), so the counts wait in `pending` and
 * go into the prom-client counter when it is scraped.
 */
export class TypeCounter {
  private readonly pending = new Map<number, number>();

  constructor(registry: Registry, name: string, help: string) {
    const pending = this.pending;
    new Counter({
      name, help, labelNames: ["ticket_type"], registers: [registry],
      collect() {
        for (const [id, by] of pending) this.inc({ ticket_type: String(id) }, by);
        pending.clear();
      },
    });
  }

  inc(ticketTypeId: number, by = 1): void {
    if (by > 0) this.pending.set(ticketTypeId, (this.pending.get(ticketTypeId) ?? 0) + by);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly http = new HttpMetrics(this.registry);

  readonly joins = this.byType("ticketqueue_joins_total", "places taken in a queue or a pre-queue (a rejoin of a live place not counted)");
  readonly holdsGranted = this.byType("ticketqueue_holds_granted_total", "holds granted by the processor (rows written to reservations)");
  readonly confirmations = this.byType("ticketqueue_confirmations_total", "holds confirmed into bookings (a repeated confirm not counted)");
  readonly releases = this.byType("ticketqueue_releases_total", "holds released, their stock back on sale (leaving the queue not counted)");
  readonly expiries = this.byType("ticketqueue_expiries_total", "holds expired by the cleaner, their stock back on sale");

  readonly batchSize = this.histogram("ticketqueue_processor_batch_size", "people taken off a queue by one claim", PEOPLE);
  readonly claimSeconds = this.histogram("ticketqueue_processor_claim_seconds", "one claim (Redis: a batch off the queue)", SECONDS);
  readonly grantSeconds = this.histogram("ticketqueue_processor_grant_seconds", "one grant (PostgreSQL: stock taken, holds written)", SECONDS);
  readonly settleSeconds = this.histogram("ticketqueue_processor_settle_seconds", "one settle (Redis: holds marked, the rest sent back)", SECONDS);
  readonly cleanerLag = this.histogram("ticketqueue_cleaner_lag_seconds", "how long after its deadline (PostgreSQL's clock) a hold was expired", LAG_SECONDS);

  /** Webhook attempts by event type and outcome: delivered, retry (failed, tried again later), failed (the last attempt failed). */
  readonly webhookDeliveries = new Counter({
    name: "ticketqueue_webhook_deliveries_total", help: "webhook delivery attempts recorded, by event type and outcome (delivered, retry, failed)",
    labelNames: ["event_type", "outcome"] as const, registers: [this.registry],
  });
  readonly webhookLatency = this.histogram("ticketqueue_webhook_delivery_latency_seconds", "from an event's commit to its delivery's 2xx being recorded", DELIVERY_SECONDS);
  readonly webhookRequestSeconds = this.histogram("ticketqueue_webhook_request_seconds", "one webhook POST, until its answer's status or the failure", SECONDS.concat([10, 30, 60]));

  private readonly errors: Counter<"dependency" | "thread">;
  private readonly outages: Counter<"dependency" | "thread">;

  constructor(readonly thread: Thread) {
    const labelNames = ["dependency", "thread"] as const;
    this.errors = new Counter({
      name: "ticketqueue_dependency_errors_total",
      help: "failures talking to Redis or PostgreSQL: requests answered 503, and failed worker rounds",
      labelNames, registers: [this.registry],
    });
    this.outages = new Counter({
      name: "ticketqueue_dependency_outages_total",
      help: "runs of failed worker rounds that began with Redis or PostgreSQL unreachable, as each worker saw them",
      labelNames, registers: [this.registry],
    });
  }

  /** Where the workers' registries are read from (the main thread's, set by src/server.ts). */
  private readonly sources: (() => Promise<MetricsJson | null>)[] = [];

  addSource(read: () => Promise<MetricsJson | null>): void {
    this.sources.push(read);
  }

  /** The text of a scrape: this registry and the sources', merged; a source that does not answer is left out. */
  async scrape(): Promise<string> {
    const others = await Promise.all(this.sources.map((read) => read().catch(() => null)));
    return mergedText(this.registry, others.filter((o) => o !== null));
  }

  /** Counts a failure against the dependency it came from (none: not counted here). */
  failed(err: unknown): void {
    const dependency = dependencyOf(err);
    if (dependency) this.errors.inc({ dependency: label(dependency), thread: this.thread });
  }

  /** A worker round failed; `first` of a run of failures, it starts an outage if a dependency is unreachable. */
  roundFailed(err: unknown, first: boolean): void {
    this.failed(err);
    const down = outageOf(err);
    if (first && down) this.outages.inc({ dependency: label(down), thread: this.thread });
  }

  private byType(name: string, help: string): TypeCounter {
    return new TypeCounter(this.registry, name, help);
  }

  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }
}

const label = (dependency: Dependency) => (dependency === "Redis" ? "redis" : "postgresql");

/** Which store an error came from: an outage, or an error reply (a script's, a constraint's). */
function dependencyOf(err: unknown): Dependency | null {
  const down = outageOf(err);
  if (down) return down;
  if (err instanceof ReplyError) return "Redis";
  if (err instanceof postgres.PostgresError) return "PostgreSQL";
  return null;
}
