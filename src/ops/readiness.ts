// GET /readyz: whether this instance can serve now. Ready while Redis answers a PING and
// PostgreSQL a SELECT 1, each within READY_PROBE_TIMEOUT_MS, and while the processor and the
// cleaner are alive and looping (their heartbeats, src/workers/host.ts). Otherwise 503, naming
// what is not. No auth: load balancers call it. GET /health stays liveness alone.
import { Elysia } from "elysia";
import type { Sql } from "../store/db";
import type { RedisClient } from "../store/redis";
import { ERROR_CODES, messageOf } from "../core/error-codes";
import { READY_PROBE_TIMEOUT_MS } from "../domain/timing";
import { within } from "../core/timeout";

/** ok: looping; stalled: no step for WORKER_STALL_MS past when it said it would; stopped: crashed or stopped. */
export type WorkerHealth = "ok" | "stalled" | "stopped";

export type Check = "ok" | "unreachable" | Exclude<WorkerHealth, "ok">;
export type ReadinessReport = { status: "ready" | "not_ready"; failing: string[]; checks: Record<string, Check> };

export class Readiness {
  private readonly workers = new Map<string, () => WorkerHealth>();
  private checking: Promise<ReadinessReport> | null = null;

  constructor(private readonly s: { redis: RedisClient; sql: Sql }) {}

  /** A worker whose health counts (src/server.ts adds the processor and the cleaner). */
  watch(name: string, health: () => WorkerHealth): void {
    this.workers.set(name, health);
  }

  /** Asks at once share one probe: several load balancers polling cost the stores one round trip each. */
  check(): Promise<ReadinessReport> {
    return (this.checking ??= this.probe().finally(() => (this.checking = null)));
  }

  private async probe(): Promise<ReadinessReport> {
    const [redis, postgresql] = await Promise.all([answers(() => this.s.redis.ping()), answers(() => this.s.sql`SELECT 1`)]);
    const checks: Record<string, Check> = { redis, postgresql };
    for (const [name, health] of this.workers) checks[name] = health();
    const failing = Object.keys(checks).filter((name) => checks[name] !== "ok");
    return { status: failing.length === 0 ? "ready" : "not_ready", failing, checks };
  }
}

/** ok if the probe succeeds in time. postgres.js waits through reconnects: a late answer is no answer. */
async function answers(probe: () => Promise<unknown>): Promise<"ok" | "unreachable"> {
  try {
    return await within(READY_PROBE_TIMEOUT_MS, probe().then(() => "ok" as const), () => "unreachable" as const);
  } catch {
    return "unreachable";
  }
}

/** `s.instance`: the whole instance's report, whichever thread is asked (src/workers/protocol.ts). */
export const readinessRoutes = (s: { instance: { readiness(): Promise<ReadinessReport> } }) =>
  new Elysia().get("/readyz", async ({ set }) => {
    const report = await s.instance.readiness();
    set.headers["cache-control"] = "no-store";
    if (report.status === "ready") return report;
    set.status = ERROR_CODES.not_ready.status;
    // an error body like every other ({error, message}), with the report
    return { error: "not_ready", message: messageOf("not_ready", report.failing.join(", ")), ...report };
  });
