// The cleaner loop: expires due holds, wakes for the next deadline (never later than
// CLEANER_INTERVAL_MS), and reconciles Redis with PostgreSQL now and then.
// Runs in a Bun Worker (src/threads/cleaner.ts) and, for tests, directly.
import { runWithBackoff, type LoopHooks } from "../core/backoff";
import { crashPoint } from "../core/crash-points";
import type { Ended } from "../reservations/finish";
import { finishInRedis } from "../reservations/finish";
import type { Sql } from "../store/db";
import type { Logger } from "../core/log";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Tokens } from "../domain/tokens";
import type { Metrics } from "../metrics/metrics";
import { expireDueHolds, msUntilNextDeadline } from "./expire";
import { conservationDrift } from "../store/invariants";
import { reconcileRedis } from "./reconcile";
import { purgeIdempotencyKeys } from "../shop/idempotency";

const EXPIRE_BATCH = 1000;
const RECONCILE_EVERY_MS = 5000;
const DRIFT_CHECK_EVERY_MS = 60_000;
const PURGE_KEYS_EVERY_MS = 3_600_000;

export type CleanerContext = {
  sql: Sql;
  redis: RedisClient;
  keys: KeysOf;
  tokens: Tokens;
  log: Logger;
  metrics: Metrics;
  intervalMs: number;
  /** The worker's heartbeat and failure count (src/threads/cleaner.ts). */
  hooks?: LoopHooks;
};

export class Cleaner {
  private lastReconcile = 0;
  private lastDriftCheck = 0;
  private lastKeyPurge = 0;

  constructor(private readonly ctx: CleanerContext) {}

  /** Expires everything due now; returns how many holds it expired. */
  async expireNow(): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await expireDueHolds(this.ctx.sql, EXPIRE_BATCH);
      total += expired.length;
      for (const e of expired) {
        this.ctx.metrics.expiries.inc(e.ticket_type_id);
        this.ctx.metrics.cleanerLag.observe(e.lag_seconds);
      }
      if (expired.length > 0) {
        crashPoint("expire:expired");
        const ended: Ended[] = expired.map((e) => ({ token: e.token, ticketTypeId: e.ticket_type_id, state: "expired" }));
        await this.tidy(ended);
      }
      if (expired.length < EXPIRE_BATCH) return total;
    }
  }

  /** One pass; returns how long to sleep before the next. */
  async tick(): Promise<number> {
    const expired = await this.expireNow();
    if (expired > 0) this.ctx.log.info("expired holds", { expired });
    if (Date.now() - this.lastReconcile > RECONCILE_EVERY_MS) {
      this.lastReconcile = Date.now();
      const tidied = await reconcileRedis(this.ctx);
      if (tidied > 0) this.ctx.log.info("reconciled redis with postgresql", { tidied });
    }
    if (Date.now() - this.lastDriftCheck > DRIFT_CHECK_EVERY_MS) {
      this.lastDriftCheck = Date.now();
      await this.checkDrift();
    }
    if (Date.now() - this.lastKeyPurge > PURGE_KEYS_EVERY_MS) {
      this.lastKeyPurge = Date.now();
      const purged = await purgeIdempotencyKeys(this.ctx.sql);
      if (purged > 0) this.ctx.log.info("purged old idempotency keys", { purged });
    }
    const next = await msUntilNextDeadline(this.ctx.sql);
    // A few ms past the deadline, so PostgreSQL's now() has passed it too.
    return next === null ? this.ctx.intervalMs : Math.min(this.ctx.intervalMs, Math.max(0, next) + 5);
  }

  async run(signal: AbortSignal): Promise<void> {
    const say = { log: this.ctx.log, failed: "cleaner pass failed; backing off", resumed: "cleaner resumed" };
    await runWithBackoff(signal, say, () => this.tick(), this.ctx.hooks);
  }

  /** I2 recomputed from the tables; drift means a bug lost or made up seats, so say it loudly. */
  private async checkDrift(): Promise<void> {
    for (const drift of await conservationDrift(this.ctx.sql)) {
      this.ctx.log.error("STOCK DRIFT: a ticket type's stock does not add up", drift);
    }
  }

  /** Stock is already back in PostgreSQL; Redis is tidied now or by the next reconcile. */
  private async tidy(ended: Ended[]): Promise<void> {
    try {
      await finishInRedis(this.ctx, ended);
    } catch (err) {
      this.ctx.log.warn("could not tidy redis after expiry; will reconcile", { error: err });
    }
  }
}
