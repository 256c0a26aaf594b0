// The shared singletons a server or a worker runs on, made from one config.
import { CheckoutHandOff } from "./checkout/hand-off";
import type { Config, Thread } from "./config/config";
import { createSql, type Sql } from "./store/db";
import { poolShares } from "./store/db-pool";
import { Catalog } from "./events/catalog";
import { createLogger, throttled, type Logger } from "./core/log";
import { Metrics } from "./metrics/metrics";
import { countOpenStreams, watchSaleFigures } from "./metrics/sale-figures";
import { createJoinIdentity, type JoinIdentity } from "./queue/join-identity";
import { HeldTickets } from "./reservations/held-tickets";
import { Readiness } from "./ops/readiness";
import type { InstanceReports } from "./workers/protocol";
import { activeKey, createRedis, keysFor, type RedisClient } from "./store/redis";
import { StreamHub } from "./reservations/stream-hub";
import { createTokens, type Tokens } from "./domain/tokens";

export type Services = {
  config: Config;
  log: Logger;
  sql: Sql;
  redis: RedisClient;
  tokens: Tokens;
  catalog: Catalog;
  /** When a type's next held ticket may come back (status, for a queue with no stock left). */
  heldTickets: HeldTickets;
  joinIdentity: JoinIdentity;
  keys: (ticketTypeId: number) => ReturnType<typeof keysFor>;
  activeKey: string;
  /** The signed hand-off to the shop's checkout (null without CHECKOUT_URL). */
  checkout: CheckoutHandOff | null;
  /** The live streams this instance holds (idle, no connection, until the first one opens). */
  streams: StreamHub;
  /** This thread's metrics (GET /metrics); the main thread's also reads the workers'. */
  metrics: Metrics;
  /** What GET /readyz checks: the stores, and the workers src/server.ts started. */
  readiness: Readiness;
  /**
   * The whole instance's reports, whichever HTTP thread is asked (the port is shared, so any may
   * be): the main thread's own; another HTTP thread asks the main thread (src/threads/http.ts).
   */
  instance: InstanceReports;
};

/** `thread`: which thread these serve; the main thread's also watch the sale's figures (GET /metrics). */
export function createServices(config: Config, log = createLogger(config.LOG_LEVEL), thread: Thread = "main"): Services {
  const sql = createSql(config.DATABASE_URL, {
    max: poolShares(config.DATABASE_POOL_SIZE, config.HTTP_THREADS)[thread],
    asyncCommit: thread === "webhooks", // claims and outcomes: a few lost to a crash are redone (src/webhooks/)
  });
  const redis = createRedis(config.REDIS_URL, config.REDIS_CLUSTER_NODES);
  // ioredis repeats this on every reconnect attempt
  const warn = throttled((err: Error) => log.warn("redis connection problem", { error: err }));
  redis.on("error", warn);
  redis.on("node error", warn); // a cluster's: one of its nodes failed
  const prefix = config.REDIS_KEY_PREFIX;
  const tokens = createTokens(config.TOKEN_SECRET);
  const s: Omit<Services, "streams" | "readiness" | "instance"> & Partial<Services> = {
    config,
    log,
    sql,
    redis,
    tokens,
    catalog: new Catalog(sql, undefined, config.PREQUEUE_MINUTES),
    heldTickets: new HeldTickets(sql),
    joinIdentity: createJoinIdentity(config),
    checkout: CheckoutHandOff.fromConfig(config, sql, log, tokens),
    keys: (ticketTypeId) => keysFor(prefix, ticketTypeId),
    activeKey: activeKey(prefix),
    metrics: new Metrics(thread),
  };
  s.streams = new StreamHub(s as Services);
  s.readiness = new Readiness(s as Services);
  const { readiness, metrics } = s as Services;
  s.instance = { readiness: () => readiness.check(), metrics: () => metrics.scrape() };
  if (thread === "main") watchSaleFigures(s as Services);
  if (thread === "main" || thread === "http") countOpenStreams(s as Services);
  return s as Services;
}

export async function closeServices(s: Services): Promise<void> {
  s.streams.close();
  s.redis.disconnect();
  await s.sql.end({ timeout: 2 });
}
