// Runs a command with Redis and PostgreSQL it can reach: the configured ones (REDIS_URL,
// DATABASE_URL) when they answer, else throwaway servers started here from the installed
// redis-server / postgres binaries on free ports, removed again when the command ends.
// With TEST_REDIS=cluster and no REDIS_CLUSTER_NODES, also a Redis Cluster of 6 nodes
// (scripts/redis-cluster.ts; one already running on its ports is reused and left running).
//   bun scripts/with-services.ts <command...>
// Signals (SIGINT, SIGTERM, SIGHUP) go on to the command, and so does a SIGTERM when our own
// parent dies: `npm start` runs us under `sh -c`, and when npm passes a SIGTERM on, that shell
// dies of it without passing it further.
import { constants } from "node:os";
import { LocalPostgres, LocalRedis, postgresAnswers, redisAnswers } from "./local-servers";
import { LocalRedisCluster } from "./redis-cluster";
import { describeDatabaseUrl } from "../src/config/database-url";

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ticket_queue";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const cleanups: Array<() => void | Promise<void>> = [];
const say = (line: string) => console.error(`[with-services] ${line}`);

let child: ReturnType<typeof Bun.spawn> | null = null;
let stopSignal: NodeJS.Signals | null = null;
const stop = (signal: NodeJS.Signals) => {
  stopSignal ??= signal;
  child?.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));
const parent = process.ppid;
const watchParent = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watchParent);
  say("parent process exited; stopping");
  stop("SIGTERM");
}, 500);

async function main() {
  const command = process.argv.slice(2);
  if (command.length === 0) throw new Error("usage: bun scripts/with-services.ts <command...>");
  const env = { ...process.env };
  env.REDIS_URL ??= DEFAULT_REDIS_URL;
  env.DATABASE_URL ??= DEFAULT_DATABASE_URL;
  if (!(await redisAnswers(env.REDIS_URL))) {
    say(`no Redis answers at ${env.REDIS_URL}`);
    const redis = await LocalRedis.start();
    cleanups.push(() => redis.stop());
    env.REDIS_URL = redis.url;
    say(`started a throwaway Redis on ${redis.url}`);
  }
  if (env.TEST_REDIS === "cluster" && !env.REDIS_CLUSTER_NODES) {
    const cluster = new LocalRedisCluster();
    if (await cluster.start()) {
      cleanups.push(() => cluster.stop());
      say(`started a throwaway Redis Cluster on ${cluster.nodes}`);
    }
    env.REDIS_CLUSTER_NODES = cluster.nodes;
  }
  if (!(await postgresAnswers(env.DATABASE_URL))) {
    say(`no PostgreSQL answers at ${describeDatabaseUrl(env.DATABASE_URL)}`);
    const pg = await LocalPostgres.start();
    cleanups.push(() => pg.stop());
    env.DATABASE_URL = pg.url;
    say(`started a throwaway PostgreSQL on ${pg.url}`);
  }
  // Told to stop while the servers were starting: they are removed below, nothing runs.
  if (stopSignal) return 128 + constants.signals[stopSignal];
  // The service stops by itself should we die without a word (kill -9): see src/main.ts.
  env.TQ_STOP_WITH_PARENT = String(process.pid);
  child = Bun.spawn(command, { env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  return child.exited;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
} finally {
  clearInterval(watchParent);
  for (const cleanup of cleanups.reverse()) await cleanup();
}
process.exit(code);
