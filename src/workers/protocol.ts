// Messages between the main thread and a worker.
import type { Config } from "../config";

export type ToWorker = { type: "start"; config: Config; name: string } | { type: "stop" };
export type FromWorker = { type: "ready" } | { type: "failed"; message: string } | { type: "stopped" };

/** Worker side: start on "start", report "ready", wind down on "stop" and report "stopped". */
export function serveAsWorker(
  start: (config: Config, name: string, signal: AbortSignal) => Promise<{ done: Promise<void>; close: () => Promise<void> }>,
): void {
  const scope = globalThis as unknown as Worker;
  const stop = new AbortController();
  let running: { done: Promise<void>; close: () => Promise<void> } | null = null;
  const send = (message: FromWorker) => scope.postMessage(message);

  scope.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "start") {
      try {
        running = await start(message.config, message.name, stop.signal);
        send({ type: "ready" });
      } catch (err) {
        send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
      }
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
