// The shared singletons a server or a worker runs on, made from one config.
import type { Config } from "./config";
import { createSql, type Sql } from "./db";
import { Catalog } from "./events/catalog";
import { createLogger, type Logger } from "./log";
import { createJoinIdentity, type JoinIdentity } from "./queue/join-identity";
import { activeKey, createRedis, keysFor, type RedisClient } from "./redis";
import { StreamHub } from "./streams/hub";
import { createTokens, type Tokens } from "./tokens";

export type Services = {
  config: Config;
  log: Logger;
  sql: Sql;
  redis: RedisClient;
  tokens: Tokens;
  catalog: Catalog;
  joinIdentity: JoinIdentity;
  keys: (ticketTypeId: number) => ReturnType<typeof keysFor>;
  activeKey: string;
  /** The live streams this instance holds (idle, no connection, until the first one opens). */
  streams: StreamHub;
};

export function createServices(config: Config, log = createLogger(config.LOG_LEVEL)): Services {
  const sql = createSql(config.DATABASE_URL);
  const redis = createRedis(config.REDIS_URL, config.REDIS_CLUSTER_NODES);
  let lastRedisError = 0;
  const warn = (err: Error) => {
    // ioredis repeats this on every reconnect attempt; once every 5 s is enough to read.
    if (Date.now() - lastRedisError < 5000) return;
    lastRedisError = Date.now();
    log.warn("redis connection problem", { error: err });
  };
  redis.on("error", warn);
  redis.on("node error", warn); // a cluster's: one of its nodes failed
  const prefix = config.REDIS_KEY_PREFIX;
  const s: Omit<Services, "streams"> & { streams?: StreamHub } = {
    config,
    log,
    sql,
    redis,
    tokens: createTokens(config.TOKEN_SECRET),
    catalog: new Catalog(sql),
    joinIdentity: createJoinIdentity(config),
    keys: (ticketTypeId) => keysFor(prefix, ticketTypeId),
    activeKey: activeKey(prefix),
  };
  s.streams = new StreamHub(s as Services);
  return s as Services;
}

export async function closeServices(s: Services): Promise<void> {
  s.streams.close();
  s.redis.disconnect();
  await s.sql.end({ timeout: 2 });
}
