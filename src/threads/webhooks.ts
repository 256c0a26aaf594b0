// The webhooks dispatcher as a Bun Worker: a thin wrapper over src/webhooks/dispatcher.ts. Not
// watched by readiness: a receiver down, or this worker, never makes the sale's instance unready.
import { createLogger } from "../core/log";
import { closeServices, createServices } from "../services";
import { Dispatcher } from "../webhooks/dispatcher";
import { watchPendingDeliveries } from "../webhooks/figures";
import { serveAsWorker } from "../workers/protocol";
import { saleIsBusy } from "../workers/sale-pulse";

/** Holds granted this recently: the sale is busy, and the webhooks worker holds back. */
const SALE_BUSY_MS = 1000;

serveAsWorker(async (config, _name, signal, beat, _main, _limits, pulse) => {
  const log = createLogger(config.LOG_LEVEL, { worker: "webhooks" });
  const s = createServices(config, log, "webhooks");
  watchPendingDeliveries(s);
  const hooks = { beat, failed: (err: unknown, first: boolean) => s.metrics.roundFailed(err, first) };
  const dispatcher = new Dispatcher({ ...s, hooks }, {
    concurrency: config.WEBHOOK_CONCURRENCY,
    perEndpoint: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    pollMs: config.WEBHOOK_POLL_MS,
    retrySchedule: config.WEBHOOK_RETRY_SCHEDULE,
    retentionDays: config.WEBHOOK_RETENTION_DAYS,
    busyConcurrency: config.WEBHOOK_BUSY_CONCURRENCY,
    saleIsBusy: () => pulse !== null && saleIsBusy(pulse, SALE_BUSY_MS),
  });
  return { done: dispatcher.run(signal), close: () => closeServices(s), registry: s.metrics.registry };
});
