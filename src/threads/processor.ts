// The processor as a Bun Worker: a thin wrapper over src/processing/processor.ts.
import { createLogger } from "../core/log";
import { batchContextOf } from "../processing/batch";
import { Processor } from "../processing/processor";
import { closeServices, createServices } from "../services";
import { serveAsWorker } from "../workers/protocol";

serveAsWorker(async (config, name, signal, beat) => {
  const log = createLogger(config.LOG_LEVEL, { worker: "processor" });
  const s = createServices(config, log, "processor");
  await s.redis.connect();
  const hooks = { beat, failed: (err: unknown, first: boolean) => s.metrics.roundFailed(err, first) };
  const processor = new Processor(batchContextOf(s), { name, activeKey: s.activeKey, log, hooks });
  return { done: processor.run(signal), close: () => closeServices(s), registry: s.metrics.registry };
});
