// The processor as a Bun Worker: a thin wrapper over src/processing/processor.ts.
import { createLogger } from "../core/log";
import { batchContextOf } from "../processing/batch";
import { Processor } from "../processing/processor";
import { closeServices, createServices } from "../services";
import { serveAsWorker } from "../workers/protocol";
import { markGranted } from "../workers/sale-pulse";

serveAsWorker(async (config, name, signal, beat, _main, _limits, pulse) => {
  const log = createLogger(config.LOG_LEVEL, { worker: "processor" });
  const s = createServices(config, log, "processor");
  await s.redis.connect();
  const hooks = { beat, failed: (err: unknown, first: boolean) => s.metrics.roundFailed(err, first) };
  const context = batchContextOf(s);
  const afterStep = context.after;
  context.after = (step, ticketTypeId) => {
    if (step === "granted" && pulse) markGranted(pulse);
    return afterStep?.(step, ticketTypeId);
  };
  const processor = new Processor(context, { name, activeKey: s.activeKey, log, hooks });
  return { done: processor.run(signal), close: () => closeServices(s), registry: s.metrics.registry };
});
