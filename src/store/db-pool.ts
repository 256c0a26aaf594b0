// How an instance's DATABASE_POOL_SIZE is shared out between its threads, each of which has a
// postgres.js pool of its own (a Bun Worker cannot share a connection): the processor and the
// cleaner get two each when there is room (each runs one statement at a time, plus a look-up
// now and then), the HTTP threads the rest, evenly, the main thread any remainder. A query
// that finds its thread's connections busy waits in postgres.js' queue for one.
import type { Thread } from "../config/config";

const WORKER_CONNECTIONS_WITH_ROOM = 2;

export type PoolShares = Record<Thread, number>;

/** Each thread's connections; `httpThreads` must leave one each (src/config/config.ts checks). */
export function poolShares(poolSize: number, httpThreads: number): PoolShares {
  const worker = poolSize - 2 * WORKER_CONNECTIONS_WITH_ROOM >= httpThreads ? WORKER_CONNECTIONS_WITH_ROOM : 1;
  const forHttp = poolSize - 2 * worker;
  const http = Math.floor(forHttp / httpThreads);
  return { main: http + (forHttp - http * httpThreads), http, processor: worker, cleaner: worker };
}
