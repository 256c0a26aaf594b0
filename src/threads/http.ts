// One more HTTP thread of an instance (HTTP_THREADS): its own connections to Redis and
// PostgreSQL, its own live streams, serving the port the main thread already serves. Its rate
// limits are the instance's (memory shared with the main thread).
import { listen } from "../listen";
import { createLogger } from "../core/log";
import { closeServices, createServices } from "../services";
import { serveAsWorker } from "../workers/protocol";

const HEARTBEAT_MS = 1000;

serveAsWorker(async (config, name, signal, beat, main, limits) => {
  const log = createLogger(config.LOG_LEVEL, { worker: name });
  const s = createServices(config, log, "http");
  s.instance = main; // the instance's readiness and metrics are the main thread's to tell
  // the main thread has just reached Redis; if it is gone again, ioredis keeps trying
  await s.redis.connect().catch(() => {});
  const server = await listen(s, config.PORT, true, limits); // the main thread's buckets: limits are the instance's
  // its event loop turns: a thread blocked for seconds is not ready (GET /readyz)
  const beating = setInterval(() => beat(HEARTBEAT_MS), HEARTBEAT_MS);
  const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  return {
    done: stopped,
    registry: s.metrics.registry,
    async close() {
      clearInterval(beating);
      s.streams.close(); // first: they never finish by themselves; their clients reconnect
      await server.stop();
      await closeServices(s);
    },
  };
});
