// Main-thread side of a worker: start it, wait until it is ready, stop it gracefully; follow its
// heartbeats (readiness) and read its metrics (GET /metrics).
import type { Config } from "../config/config";
import type { Logger } from "../core/log";
import type { LimitsMemory } from "../rate-limit/limits";
import type { WorkerHealth } from "../ops/readiness";
import type { MetricsJson } from "../metrics/scrape";
import { WORKER_METRICS_TIMEOUT_MS, WORKER_STALL_MS } from "../domain/timing";
import { within } from "../core/timeout";
import type { FromWorker, InstanceReports, ToWorker } from "./protocol";
import type { SalePulse } from "./sale-pulse";

export type RunningWorker = {
  stop(timeoutMs: number): Promise<void>;
  health(): WorkerHealth;
  /**
   * The worker's registry as JSON. One that does not answer in time gets its last answer used
   * (null before any): its counters left out would look like a reset to Prometheus.
   */
  metrics(): Promise<MetricsJson | null>;
};

/**
 * `reports`: what the worker may ask of the main thread (an HTTP thread answering /readyz,
 * /metrics); `shared`: memory shared, not copied: the instance's rate limits' (an HTTP thread),
 * its sale's pulse (the processor and the webhooks worker).
 */
export function startWorker(
  url: URL, name: string, config: Config, log: Logger, reports?: InstanceReports,
  shared: { limits?: LimitsMemory | null; pulse?: SalePulse } = {},
): Promise<RunningWorker> {
  const worker = new Worker(url);
  const send = (message: ToWorker) => worker.postMessage(message);
  let beatAt = Date.now();
  let nextInMs = 0;
  let stopped = false;
  const asked = new Map<number, (metrics: MetricsJson) => void>();
  let nextId = 0;
  let lastMetrics: MetricsJson | null = null;

  const running: RunningWorker = {
    stop: (timeoutMs) => {
      stopped = true;
      return stopWorker(worker, timeoutMs);
    },
    health: () => (stopped ? "stopped" : Date.now() > beatAt + nextInMs + WORKER_STALL_MS ? "stalled" : "ok"),
    metrics: () => {
      if (stopped) return Promise.resolve(lastMetrics);
      const id = nextId++;
      const answer = new Promise<MetricsJson>((resolve) => asked.set(id, resolve));
      send({ type: "metrics", id });
      return within(WORKER_METRICS_TIMEOUT_MS, answer.then((metrics) => (lastMetrics = metrics)), () => {
        asked.delete(id); // an answer after this is dropped
        return lastMetrics;
      });
    },
  };

  return new Promise((resolve, reject) => {
    let ready = false;
    // Errors in a worker are silent unless someone listens.
    worker.addEventListener("error", (event) => {
      log.error("worker crashed", { worker: name, error: event.message });
      stopped = true;
      if (!ready) reject(new Error(`${name} worker crashed while starting: ${event.message}`));
    });
    worker.addEventListener("close", () => void (stopped = true));
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "heartbeat") {
        beatAt = Date.now();
        nextInMs = message.nextInMs;
      } else if (message.type === "metrics") {
        asked.get(message.id)?.(message.metrics);
        asked.delete(message.id);
      } else if (message.type === "ask" && reports) {
        void reports[message.what]().then((body) => send({ type: "answer", id: message.id, body }));
      } else if (message.type === "ready") {
        ready = true;
        beatAt = Date.now();
        resolve(running);
      } else if (message.type === "failed") {
        reject(new Error(`${name} worker could not start: ${message.message}`));
      }
    });
    send({ type: "start", config, name, limits: shared.limits ?? null, pulse: shared.pulse ?? null });
  });
}

async function stopWorker(worker: Worker, timeoutMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve) =>
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      if (event.data.type === "stopped") resolve();
    }),
  );
  worker.postMessage({ type: "stop" } satisfies ToWorker);
  await within(timeoutMs, stopped, () => undefined);
  worker.terminate();
}
