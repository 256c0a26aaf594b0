// The cleaner as a Bun Worker: a thin wrapper over src/expiry/cleaner.ts.
import { Cleaner } from "../expiry/cleaner";
import { createLogger } from "../core/log";
import { closeServices, createServices } from "../services";
import { serveAsWorker } from "../workers/protocol";

serveAsWorker(async (config, _name, signal, beat) => {
  const log = createLogger(config.LOG_LEVEL, { worker: "cleaner" });
  const s = createServices(config, log, "cleaner");
  await s.redis.connect();
  const hooks = { beat, failed: (err: unknown, first: boolean) => s.metrics.roundFailed(err, first) };
  const cleaner = new Cleaner({ ...s, intervalMs: config.CLEANER_INTERVAL_MS, hooks });
  return { done: cleaner.run(signal), close: () => closeServices(s), registry: s.metrics.registry };
});
