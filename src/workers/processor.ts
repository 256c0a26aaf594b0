// The processor as a Bun Worker: a thin wrapper over src/processing/processor.ts.
import { createLogger } from "../log";
import { batchContextOf } from "../processing/batch";
import { Processor } from "../processing/processor";
import { closeServices, createServices } from "../services";
import { serveAsWorker } from "./protocol";

serveAsWorker(async (config, name, signal) => {
  const log = createLogger(config.LOG_LEVEL, { worker: "processor" });
  const s = createServices(config, log);
  await s.redis.connect();
  const processor = new Processor(batchContextOf(s), { name, activeKey: s.activeKey, log });
  return { done: processor.run(signal), close: () => closeServices(s) };
});
