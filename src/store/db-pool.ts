// How an instance's DATABASE_POOL_SIZE is shared out between its threads, each of which has a
// postgres.js pool of its own (a Bun Worker cannot share a connection): the processor, the
// cleaner and the webhooks worker get two each when there is room (each runs one statement at
// a time, plus a look-up now and then; the webhooks worker claims while it records outcomes),
// the HTTP threads the rest, evenly, the main thread any remainder. A query that finds its
// thread's connections busy waits in postgres.js' queue for one.
import type { Thread } from "../config/config";

const WORKER_CONNECTIONS_WITH_ROOM = 2;
/** The worker threads besides HTTP: processor, cleaner, webhooks. */
const WORKERS = 3;

export type PoolShares = Record<Thread, number>;

/** Each thread's connections; `httpThreads` must leave one each (src/config/config.ts checks). */
export function poolShares(poolSize: number, httpThreads: number): PoolShares {
  const worker = poolSize - WORKERS * WORKER_CONNECTIONS_WITH_ROOM >= httpThreads ? WORKER_CONNECTIONS_WITH_ROOM : 1;
  const forHttp = poolSize - WORKERS * worker;
  const http = Math.floor(forHttp / httpThreads);
  return { main: http + (forHttp - http * httpThreads), http, processor: worker, cleaner: worker, webhooks: worker };
}
