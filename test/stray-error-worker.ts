// For test/worker-errors.test.ts, run as its own process (bun test's runner handles a worker's
// uncaught errors its own way): on the main thread it hosts itself as a worker and prints the
// worker's health once the stray error was thrown; as the worker, a stray callback throws once
// started (as postgres.js once did, writing to a socket PostgreSQL had just closed) while its
// loop beats on.
import { Gauge, Registry } from "prom-client";
import { loadConfigWithoutSecret } from "../src/config/config";
import { createLogger } from "../src/core/log";
import { startWorker } from "../src/workers/host";
import { serveAsWorker } from "../src/workers/protocol";

const THROWN = "stray_error_thrown";

if (Bun.isMainThread) {
  const worker = await startWorker(new URL(import.meta.url), "stray", loadConfigWithoutSecret(), createLogger("error"));
  const thrown = async () => (await worker.metrics())?.some((m) => m.name === THROWN && m.values[0]?.value === 1) ?? false;
  while (worker.health() !== "stopped" && !(await thrown())) await Bun.sleep(20); // polls the worker
  await Bun.sleep(300); // a window for the worker to die in, were it to
  console.log(JSON.stringify({ health: worker.health(), answers: (await worker.metrics()) !== null }));
  await worker.stop(2000);
  process.exit(0);
} else {
  serveAsWorker(async (_config, _name, signal, beat) => {
    const registry = new Registry();
    const thrown = new Gauge({ name: THROWN, help: "1 once the stray callback threw", registers: [registry] });
    setImmediate(() => {
      thrown.set(1);
      throw new TypeError("null is not an object (evaluating 'socket.write')");
    });
    const done = (async () => {
      while (!signal.aborted) {
        beat(50);
        await Bun.sleep(50); // the loop's own pace
      }
    })();
    return { done, close: async () => {}, registry };
  });
}
