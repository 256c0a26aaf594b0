// Redis client factory and key builders (hash-tagged by ticket type). The scripts are
// registered on every client made here (src/store/scripts.ts) and called through `redis.scripts`.
// One Redis, or a Redis Cluster (REDIS_CLUSTER_NODES): callers use either the same way.
import Redis, { Cluster, type ChainableCommander } from "ioredis";
import { clusterNodes } from "../config/config";
import { defineScripts, Scripts } from "./scripts";
import { DEPENDENCY_TIMEOUT_MS } from "../domain/timing";

export type RedisClient = (Redis | Cluster) & { readonly scripts: Scripts };

const reconnect = (attempt: number) => Math.min(attempt * 100, 2000);

/** A client of the Redis at `url`, or of the cluster whose nodes `clusterNodeList` names (then `url` is unused). */
export function createRedis(url: string, clusterNodeList?: string): RedisClient {
  const perConnection = {
    connectTimeout: 3000,
    // A Redis that accepts but never answers (stopped, overloaded) fails the command instead.
    commandTimeout: DEPENDENCY_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
  };
  const shared = {
    lazyConnect: true,
    // No auto-pipelining: joins are already batched (queue/join-batcher.ts), and its per-tick
    // pipeline cost more than the writes it saved: in A/B runs without it joins went 7-15%
    // faster and status lookups were as fast or faster (bench/).
    enableAutoPipelining: false,
    // Fail fast while disconnected: callers answer 503 or back off instead of piling up.
    enableOfflineQueue: false,
  };
  const redis = clusterNodeList
    ? new Cluster(clusterNodes(clusterNodeList), {
      ...shared,
      clusterRetryStrategy: reconnect,
      redisOptions: perConnection,
      // MOVED, ASK, TRYAGAIN, CLUSTERDOWN and a closed node are retried (ioredis) up to 16
      // times 100 ms apart, through most of a failover (node timeout + election, 2-3 s);
      // what is left fails as an outage (errors.ts: 503, or the worker backs off).
      slotsRefreshTimeout: 1000,
    })
    : new Redis(url, { ...shared, ...perConnection, retryStrategy: reconnect });
  defineScripts(redis);
  return Object.assign(redis, { scripts: new Scripts(redis) });
}

/**
 * Runs `add` for each item in pipelines and returns the replies in the items' order. On one
 * Redis that is one pipeline; on a cluster one per hash tag, as a cluster pipeline may not
 * span nodes (`keyOf` names a key of the item's commands: they must share its tag).
 */
export async function pipelined<T>(
  redis: Redis | Cluster, items: T[], keyOf: (item: T) => string, add: (pipeline: ChainableCommander, item: T) => void,
): Promise<[Error | null, unknown][]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const group = redis.isCluster ? hashTag(keyOf(item)) : "";
    groups.get(group)?.push(i) ?? groups.set(group, [i]);
  });
  const replies: [Error | null, unknown][] = items.map(() => [new Error("no reply"), null]);
  await Promise.all([...groups.values()].map(async (indexes) => {
    const pipeline = redis.pipeline();
    for (const i of indexes) add(pipeline, items[i]!);
    const got = await pipeline.exec();
    indexes.forEach((item, j) => (replies[item] = got?.[j] ?? [new Error("no reply"), null]));
  }));
  return replies;
}

/** What Redis Cluster hashes a key by: the first non-empty {...}, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Every key of one ticket type shares the hash tag {T}, so each script stays in one slot. */
export function keysFor(prefix: string, ticketTypeId: number): Keys {
  const cacheKey = `${prefix}\u0000${ticketTypeId}`;
  let keys = KEYS_CACHE.get(cacheKey);
  if (!keys) {
    keys = buildKeys(prefix, ticketTypeId);
    KEYS_CACHE.set(cacheKey, keys);
  }
  return keys;
}
// Built once per ticket type: the hot paths ask for them on every request.
const KEYS_CACHE = new Map<string, Keys>();

function buildKeys(prefix: string, ticketTypeId: number) {
  const tag = `{${ticketTypeId}}`;
  const recordPrefix = `${prefix}reservation:${tag}:`;
  return {
    queue: `${prefix}queue:${tag}`, //               list of token ids, head first (the original's key)
    meta: `${prefix}meta:${tag}`, //                 hash: epoch, seq (last place given), served, rate
    inflight: `${prefix}inflight:${tag}`, //         hash: batch id -> in-flight entry (formats.ts)
    deadlines: `${prefix}deadlines:${tag}`, //       sorted set: batch id -> its latest hold deadline
    batchPrefix: `${prefix}batch:${tag}:`, //        a settled batch's outcome (formats.ts)
    lease: `${prefix}lease:${tag}`, //               which processor serves the type
    bought: `${prefix}bought:${tag}`, //             hash: user id -> tickets booked (the limit's tally)
    prequeue: `${prefix}prequeue:${tag}`, //         sorted set: token id -> random rank, waiting for the sale's start
    // hash: user id -> their live token id (I4): the token mapping of the design, the other way
    // round (a token's own type is in its signature and in its record's key; lua/includes/users.lua)
    users: `${prefix}users:${tag}`,
    // a pub/sub channel, not a key: token ids whose state changed where meta's served mark does
    // not show it (settle-4.lua, finish-2.lua, cancel-2.lua); live streams listen (src/streams/notices.ts)
    changes: `${prefix}changes:${tag}`,
    recordPrefix, //                                 reservation:{T}:<id>, a token's record (the original's key)
    record: (id: string) => recordPrefix + id,
  };
}
export type Keys = ReturnType<typeof buildKeys>;
/** A ticket type's keys, as the services hand them out (`keysFor` with the configured prefix). */
export type KeysOf = (ticketTypeId: number) => Keys;

/** Ticket types with people waiting; joins add to it, the processor drains it. */
export const activeKey = (prefix: string) => `${prefix}active-ticket-types`;

/**
 * Ticket types that may have a pre-queue to open at their sale's start; joins add to it, the
 * processor opens the pre-queue and takes the type off (sale-start/open-at-start.ts). Named beside
 * the active set: whoever knows that one (the processor) knows this one.
 */
export const prequeuedKey = (active: string) => `${active}:prequeued`;

/** The nodes a cluster client knows now (masters and replicas), else the configured ones. */
export function clusterNodesNow(redis: Redis | Cluster, configured: string): { host: string; port: number }[] {
  const known = redis instanceof Cluster ? redis.nodes("all").map((n) => ({ host: n.options.host!, port: n.options.port! })) : [];
  return known.length > 0 ? known : clusterNodes(configured);
}
