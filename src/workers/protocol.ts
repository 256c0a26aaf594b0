// Messages between the main thread and a worker.
import type { Registry } from "prom-client";
import type { Config } from "../config/config";
import type { MetricsJson } from "../metrics/scrape";
import type { LimitsMemory } from "../rate-limit/limits";
import type { SalePulse } from "./sale-pulse";
import type { ReadinessReport } from "../ops/readiness";
import { createLogger, type Logger } from "../core/log";

/** What any HTTP thread tells of the whole instance: the main thread's own; another HTTP thread asks the main thread. */
export type InstanceReports = { readiness(): Promise<ReadinessReport>; metrics(): Promise<string> };

export type ToWorker =
  /**
   * `limits`: the instance's rate limits' memory, for an HTTP thread; `pulse`: when its
   * processor last granted, for the processor and the webhooks worker (memory shared alike).
   */
  | { type: "start"; config: Config; name: string; limits: LimitsMemory | null; pulse: SalePulse | null }
  | { type: "stop" }
  /** Asks for the worker's metrics registry (GET /metrics); answered with the same id. */
  | { type: "metrics"; id: number }
  /** The main thread's answer to an "ask". */
  | { type: "answer"; id: number; body: unknown };
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "stopped" }
  /** The worker's loop is alive and steps again within `nextInMs` (plus a step's time): readiness. */
  | { type: "heartbeat"; nextInMs: number }
  | { type: "metrics"; id: number; metrics: MetricsJson }
  /** An HTTP thread asks for the whole instance's report (GET /readyz, GET /metrics). */
  | { type: "ask"; id: number; what: keyof InstanceReports };

/** What a worker's start gives back: its loop, how to close it, and the registry its metrics live in. */
export type WorkerRun = { done: Promise<void>; close: () => Promise<void>; registry: Registry };

/**
 * Heartbeats at most this often: the processor steps every few ms when idle. One announcing a
 * longer sleep than this is always sent, or the host would expect the next too soon.
 */
const BEAT_EVERY_MS = 250;

/**
 * Worker side: start on "start", report "ready", wind down on "stop" and report "stopped";
 * answer "metrics" with the registry's JSON. `beat` is for the worker's loop (LoopHooks.beat).
 */
export function serveAsWorker(
  start: (
    config: Config, name: string, signal: AbortSignal, beat: (nextInMs: number) => void, main: InstanceReports,
    limits: LimitsMemory | null, pulse: SalePulse | null,
  ) => Promise<WorkerRun>,
): void {
  const scope = globalThis as unknown as Worker;
  const stop = new AbortController();
  let running: WorkerRun | null = null;
  const send = (message: FromWorker) => scope.postMessage(message);
  let lastBeat = 0;
  const beat = (nextInMs: number) => {
    const now = Date.now();
    if (nextInMs < BEAT_EVERY_MS && now - lastBeat < BEAT_EVERY_MS) return;
    lastBeat = now;
    send({ type: "heartbeat", nextInMs });
  };

  const answers = new Map<number, (body: unknown) => void>();
  let nextAsk = 0;
  const ask = <T>(what: keyof InstanceReports) =>
    new Promise<T>((resolve) => {
      const id = nextAsk++;
      answers.set(id, resolve as (body: unknown) => void);
      send({ type: "ask", id, what });
    });
  const main: InstanceReports = { readiness: () => ask("readiness"), metrics: () => ask("metrics") };

  scope.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "answer") {
      answers.get(message.id)?.(message.body);
      answers.delete(message.id);
    } else if (message.type === "start") {
      carryOnAfterStrayErrors(createLogger(message.config.LOG_LEVEL, { worker: message.name }));
      try {
        running = await start(message.config, message.name, stop.signal, beat, main, message.limits, message.pulse);
        send({ type: "ready" });
      } catch (err) {
        send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
      }
    } else if (message.type === "metrics") {
      send({ type: "metrics", id: message.id, metrics: running ? await running.registry.getMetricsAsJSON() : [] });
    } else if (message.type === "stop") {
      stop.abort();
      if (running) {
        await running.done;
        await running.close();
      }
      send({ type: "stopped" });
    }
  };
}

/**
 * An error thrown by a stray callback (postgres.js writing to a socket PostgreSQL just closed,
 * seen in a restart) would end the worker for good, and the instance would serve on without its
 * processor or cleaner. Their loops keep their own state and recover from a failed step by
 * themselves, and a failed step rejects their promise rather than landing here: log, carry on.
 */
function carryOnAfterStrayErrors(log: Logger): void {
  process.on("uncaughtException", (err) => log.error("stray error in a worker callback; the worker carries on", { error: err }));
}
