// Gauges read when scraped, in the webhooks worker alone: deliveries pending, and how old the
// oldest is (a receiver down, or the worker behind, shows here first). Read from the due index
// at most once a second, whoever scrapes; while PostgreSQL does not answer, the last reading stays.
import { Gauge } from "prom-client";
import { within } from "../core/timeout";
import type { Metrics } from "../metrics/metrics";
import type { Sql } from "../store/db";
import { pendingFigures } from "./outbox";

const MAX_AGE_MS = 1000;
const READ_TIMEOUT_MS = 1000;

export function watchPendingDeliveries(s: { sql: Sql; metrics: Metrics }): void {
  let figures = { pending: 0, oldestSeconds: 0 };
  let readAt = 0;
  let reading: Promise<void> | null = null;
  const fresh = (): Promise<void> => {
    if (Date.now() - readAt < MAX_AGE_MS) return Promise.resolve();
    reading ??= within(READ_TIMEOUT_MS, pendingFigures(s.sql), () => {
      throw new Error("pending webhook figures took too long");
    })
      .then((read) => void (figures = read), (err) => s.metrics.failed(err))
      .finally(() => {
        readAt = Date.now();
        reading = null;
      });
    return reading;
  };
  const registers = [s.metrics.registry];
  new Gauge({
    name: "ticketqueue_webhook_pending", help: "webhook deliveries pending (due now, or waiting for a retry or a lease)", registers,
    async collect() {
      await fresh();
      this.set(figures.pending);
    },
  });
  new Gauge({
    name: "ticketqueue_webhook_oldest_pending_seconds", help: "age of the oldest pending webhook delivery, from its event (0: none pending)", registers,
    async collect() {
      await fresh();
      this.set(figures.oldestSeconds);
    },
  });
}
