// The webhooks loop: claims due deliveries (many instances at once: SKIP LOCKED and a lease per
// claim), posts each (up to `concurrency` in flight, `perEndpoint` to any one endpoint, so one
// that hangs cannot take every slot), and records the outcomes in batches. Idle, it looks again
// every `pollMs`; after a full claim, at once. PostgreSQL away: the step fails and backs off;
// requests in flight finish and their outcomes wait here until it is back (or their leases lapse
// and the deliveries are tried again: at least once, never lost). Runs in a Bun Worker
// (src/threads/webhooks.ts) and, for tests, directly.
import { runWithBackoff, sleepUnlessAborted, type LoopHooks } from "../core/backoff";
import type { Logger } from "../core/log";
import type { Metrics } from "../metrics/metrics";
import type { Sql } from "../store/db";
import { claimDue, deleteDelivered, expandGrants, recordOutcomes, type Claimed, type Outcome } from "./outbox";
import { postDelivery } from "./post";
import { parseRetrySchedule, retryDelaySeconds } from "./retry-schedule";

/**
 * A claim's lease beyond the request's timeout: time to record the outcome before another
 * instance may take it. Short, as a dead instance's claims wait this long; one recorded later
 * (PostgreSQL away for longer) is dropped if another took the delivery meanwhile: sent twice,
 * which at-least-once allows (receivers dedupe by webhook-id).
 */
const LEASE_MARGIN_SECONDS = 5;
const RETENTION_EVERY_MS = 60_000;
/**
 * While the sale is busy, a step every this often at most, not one per request finished: each
 * step is a claim and a recording, statements the sale's PostgreSQL would rather not run.
 */
const BUSY_STEP_MS = 50;
/** Grant batches expanded into deliveries per statement (a batch: up to a few thousand holds). */
const EXPAND_BATCHES = 1;
/** When a stopping worker gives up waiting for its requests in flight (their leases lapse: tried again). */
const STOP_WAIT_MS = 1500;

export type DispatcherOptions = {
  concurrency: number;
  /** In flight at most while the sale is busy (`saleIsBusy`): the sale's cores come first. */
  busyConcurrency?: number;
  saleIsBusy?: () => boolean;
  perEndpoint: number;
  timeoutMs: number;
  pollMs: number;
  /** WEBHOOK_RETRY_SCHEDULE's text. */
  retrySchedule: string;
  retentionDays: number;
};

export type DispatcherContext = { sql: Sql; log: Logger; metrics: Metrics; hooks?: LoopHooks };

export class Dispatcher {
  private readonly schedule: number[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perEndpoint = new Map<number, number>();
  private outcomes: Outcome[] = [];
  private wake: (() => void) | null = null;
  private lastRetention = 0;
  private lastExpansion = 0;
  /** Whether the last claim found less than it had room for: time to expand grant batches. */
  private ranDry = true;
  private readonly abandon = new AbortController();

  constructor(private readonly ctx: DispatcherContext, private readonly options: DispatcherOptions) {
    const schedule = parseRetrySchedule(options.retrySchedule);
    if (!schedule) throw new Error(`not a retry schedule: ${options.retrySchedule}`);
    this.schedule = schedule;
  }

  async run(signal: AbortSignal): Promise<void> {
    const say = { log: this.ctx.log, failed: "webhook round failed; backing off", resumed: "webhooks resumed" };
    await runWithBackoff(signal, say, () => this.step(signal), this.ctx.hooks);
    await this.windDown();
  }

  /**
   * Records what finished and claims what there is room for, then waits: for a request to
   * finish (room again, an outcome to record) or for the next poll.
   */
  async step(signal: AbortSignal): Promise<number> {
    await this.retention();
    await this.expand();
    const busy = this.options.saleIsBusy?.() ?? false;
    const free = (busy ? Math.min(this.options.busyConcurrency ?? 1, this.options.concurrency) : this.options.concurrency) - this.inFlight.size;
    // recording and claiming at once, on two connections: each is a round trip of its own
    const claiming = free > 0 && !signal.aborted
      ? claimDue(this.ctx.sql, free, this.options.perEndpoint, this.slots(), this.leaseSeconds())
      : Promise.resolve([]);
    const [claimed, recorded] = await Promise.allSettled([claiming, this.flush()]);
    if (claimed.status === "fulfilled") {
      this.sendAll(claimed.value); // claimed: sent, whatever the recording did
      if (free > 0) this.ranDry = claimed.value.length < free;
    }
    if (claimed.status === "rejected") throw claimed.reason;
    if (recorded.status === "rejected") throw recorded.reason;
    if (busy) await sleepUnlessAborted(BUSY_STEP_MS, signal);
    else await this.nextChange(this.options.pollMs, signal);
    return 0;
  }

  private leaseSeconds(): number {
    return Math.ceil(this.options.timeoutMs / 1000) + LEASE_MARGIN_SECONDS;
  }

  /** The free slots of each endpoint with requests in flight here. */
  private slots(): Map<number, number> {
    return new Map([...this.perEndpoint].map(([id, n]) => [id, this.options.perEndpoint - n]));
  }

  /** Sends each claimed delivery (the claim kept within each endpoint's slots). */
  private sendAll(claimed: Claimed[]): void {
    for (const d of claimed) {
      this.perEndpoint.set(d.endpointId, (this.perEndpoint.get(d.endpointId) ?? 0) + 1);
      const sent: Promise<void> = this.send(d).finally(() => {
        this.inFlight.delete(sent);
        const left = (this.perEndpoint.get(d.endpointId) ?? 1) - 1;
        if (left > 0) this.perEndpoint.set(d.endpointId, left);
        else this.perEndpoint.delete(d.endpointId);
        this.wake?.();
      });
      this.inFlight.add(sent);
    }
  }

  private async send(d: Claimed): Promise<void> {
    const attempt = await postDelivery(d, this.options.timeoutMs, this.abandon.signal);
    if (this.abandon.signal.aborted) return; // stopping: not an attempt of the receiver's making
    this.ctx.metrics.webhookRequestSeconds.observe(attempt.seconds);
    this.outcomes.push({
      id: d.id, attempts: d.attempts, statusCode: attempt.statusCode, delivered: attempt.delivered, error: attempt.error,
      retryInSeconds: attempt.delivered ? null : retryDelaySeconds(this.schedule, d.attempts),
    });
  }

  /** Records the outcomes gathered so far; on failure they stay for the next step. */
  private async flush(): Promise<void> {
    if (this.outcomes.length === 0) return;
    const batch = this.outcomes;
    this.outcomes = [];
    let recorded;
    try {
      recorded = await recordOutcomes(this.ctx.sql, batch);
    } catch (err) {
      this.outcomes = batch.concat(this.outcomes);
      throw err;
    }
    for (const r of recorded) {
      this.ctx.metrics.webhookDeliveries.inc({ event_type: r.eventType, outcome: r.outcome });
      if (r.latencySeconds !== null) this.ctx.metrics.webhookLatency.observe(r.latencySeconds);
    }
  }

  /**
   * Grants' batches into deliveries, just in time: once the claims run dry (every poll at most,
   * at once again after one expanded). Expanding a rush's batches as they come would take the
   * cores the sale needs, to write rows nobody can post yet.
   */
  private async expand(): Promise<void> {
    if (!this.ranDry || Date.now() - this.lastExpansion < this.options.pollMs) return;
    const written = await expandGrants(this.ctx.sql, EXPAND_BATCHES);
    this.lastExpansion = written > 0 ? 0 : Date.now();
  }

  private async retention(): Promise<void> {
    if (Date.now() - this.lastRetention < RETENTION_EVERY_MS) return;
    this.lastRetention = Date.now();
    const deleted = await deleteDelivered(this.ctx.sql, this.options.retentionDays);
    if (deleted > 0) this.ctx.log.info("deleted delivered webhooks past retention", { deleted });
  }

  /** Until a request finishes or `ms` pass (or the worker stops). */
  private async nextChange(ms: number, signal: AbortSignal): Promise<void> {
    if (this.outcomes.length > 0) return; // finished meanwhile: record them now
    const changed = new Promise<void>((resolve) => (this.wake = resolve));
    await Promise.race([changed, sleepUnlessAborted(ms, signal)]);
    this.wake = null;
  }

  /** Stopping: lets requests in flight finish for a moment, records what it can, abandons the rest. */
  private async windDown(): Promise<void> {
    const waiting = sleepUnlessAborted(STOP_WAIT_MS, new AbortController().signal);
    await Promise.race([Promise.all(this.inFlight), waiting]);
    this.abandon.abort();
    await Promise.all(this.inFlight);
    await this.flush().catch((err) => this.ctx.log.warn("could not record webhook outcomes while stopping", { error: err }));
  }
}
