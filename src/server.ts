// One running instance: dependencies reached and migrated, processor, cleaner and webhooks
// workers started, HTTP served. main.ts runs one; tests run several side by side.
import { hostname } from "node:os";
import { collectDefaultMetrics } from "prom-client";
import { describeRedis, describeUrl, type Config } from "./config/config";
import { seedDemo } from "./ops/demo";
import type { Logger } from "./core/log";
import { closeServices, createServices } from "./services";
import { migrateLogged, StartupError, waitForDependencies } from "./ops/startup";
import { assertPortFree, listen, type Listening } from "./listen";
import { limitsMemory } from "./rate-limit/limits";
import { startWorker, type RunningWorker } from "./workers/host";
import { salePulse } from "./workers/sale-pulse";

export type RunningService = { port: number; stop(timeoutMs?: number): Promise<void> };

export async function startService(config: Config, log: Logger, options: { demo?: boolean } = {}): Promise<RunningService> {
  const s = createServices(config, log);
  await waitForDependencies(s, config, log);
  await migrateLogged(s, log);
  if (options.demo && (await seedDemo(s.sql, config.CURRENCY))) log.info("created the demo event");

  const pulse = salePulse(); // the processor marks its grants; the webhooks worker holds back meanwhile
  const workers = await Promise.all([
    startWorker(new URL("./threads/processor.ts", import.meta.url),
      `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`, config, log, undefined, { pulse }),
    startWorker(new URL("./threads/cleaner.ts", import.meta.url), "cleaner", config, log),
    startWorker(new URL("./threads/webhooks.ts", import.meta.url), "webhooks", config, log, undefined, { pulse }),
  ]);
  for (const [name, worker] of [["processor", workers[0]], ["cleaner", workers[1]]] as const) {
    s.readiness.watch(name, worker.health);
  }
  // webhooks: its metrics, not its health: /readyz is about the sale, which a receiver down
  // (or this worker) does not stop
  for (const worker of workers) s.metrics.addSource(worker.metrics);
  collectDefaultMetrics({ register: s.metrics.registry }); // process metrics: once, in the main thread
  const stopRest = async (timeoutMs: number) => {
    await Promise.all(workers.map((w) => w.stop(timeoutMs - 2000))); // each finishes its batch
    await closeServices(s).catch((err) => log.warn("closing connections failed", { error: err }));
  };
  let http: Listening;
  let threads: RunningWorker[] = [];
  try {
    const shared = config.HTTP_THREADS > 1;
    if (shared) assertPortFree(config.PORT, config.HOST);
    const limits = limitsMemory(config); // one for all threads: a client's limits are the instance's
    http = await listen(s, config.PORT, shared, limits);
    // the other threads serve the port this one got (PORT=0 picks one)
    const threadConfig = { ...config, PORT: http.port };
    threads = await Promise.all(Array.from({ length: config.HTTP_THREADS - 1 }, (_, i) =>
      startWorker(new URL("./threads/http.ts", import.meta.url), `http-${i + 2}`, threadConfig, log, s.instance, { limits })));
    for (const [i, thread] of threads.entries()) {
      s.readiness.watch(`http-${i + 2}`, thread.health);
      s.metrics.addSource(thread.metrics);
    }
  } catch (err) {
    await Promise.all(threads.map((t) => t.stop(2000)));
    await stopRest(5000);
    if ((err as { code?: string }).code === "EADDRINUSE") throw new StartupError(`port ${config.PORT} is already in use`);
    throw err;
  }
  const port = http.port;
  // port first: bench/harness.ts reads it off this line. No passwords: describeUrl drops them.
  log.info("listening", {
    port, url: http.url, http_threads: config.HTTP_THREADS,
    redis: describeRedis(config), postgres: describeUrl(config.DATABASE_URL),
  });

  return {
    port,
    async stop(timeoutMs = 10_000) {
      // Live streams first: they would never finish by themselves, and their clients reconnect
      // (to another instance) after the retry advice they were given.
      s.streams.close();
      await Promise.all([http.stop(), ...threads.map((t) => t.stop(timeoutMs - 3000))]);
      await stopRest(timeoutMs);
    },
  };
}
