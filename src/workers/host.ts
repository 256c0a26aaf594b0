// Main-thread side of a worker: start it, wait until it is ready, stop it gracefully.
import type { Config } from "../config";
import type { Logger } from "../log";
import type { FromWorker, ToWorker } from "./protocol";

export type RunningWorker = { stop(timeoutMs: number): Promise<void> };

export function startWorker(url: URL, name: string, config: Config, log: Logger): Promise<RunningWorker> {
  const worker = new Worker(url);
  const send = (message: ToWorker) => worker.postMessage(message);
  return new Promise((resolve, reject) => {
    let ready = false;
    // Errors in a worker are silent unless someone listens.
    worker.addEventListener("error", (event) => {
      log.error("worker crashed", { worker: name, error: event.message });
      if (!ready) reject(new Error(`${name} worker crashed while starting: ${event.message}`));
    });
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      if (event.data.type === "ready") {
        ready = true;
        resolve({ stop: (timeoutMs) => stopWorker(worker, timeoutMs) });
      } else if (event.data.type === "failed") {
        reject(new Error(`${name} worker could not start: ${event.data.message}`));
      }
    });
    send({ type: "start", config, name });
  });
}

async function stopWorker(worker: Worker, timeoutMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve) =>
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      if (event.data.type === "stopped") resolve();
    }),
  );
  worker.postMessage({ type: "stop" } satisfies ToWorker);
  await Promise.race([stopped, Bun.sleep(timeoutMs)]);
  worker.terminate();
}
