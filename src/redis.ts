// Redis client factory and key builders (hash-tagged by ticket type). The scripts are
// registered on every client made here (src/scripts.ts) and called through `redis.scripts`.
import Redis from "ioredis";
import { defineScripts, Scripts } from "./scripts";
import { DEPENDENCY_TIMEOUT_MS } from "./timing";

export type RedisClient = Redis & { readonly scripts: Scripts };

export function createRedis(url: string): RedisClient {
  const redis = new Redis(url, {
    lazyConnect: true,
    // No auto-pipelining: joins are already batched (queue/join-batcher.ts), and its per-tick
    // pipeline cost more than the writes it saved: in A/B runs without it joins went 7-15%
    // faster and status lookups were as fast or faster (bench/).
    enableAutoPipelining: false,
    // Fail fast while disconnected: callers answer 503 or back off instead of piling up.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
    // A Redis that accepts but never answers (stopped, overloaded) fails the command instead.
    commandTimeout: DEPENDENCY_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  defineScripts(redis);
  return Object.assign(redis, { scripts: new Scripts(redis) });
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
  const userPrefix = `${prefix}user:${tag}:`;
  const mappingPrefix = `${prefix}token-ticket-type:${tag}:`;
  return {
    queue: `${prefix}queue:${tag}`, //               list of token ids, head first (the original's key)
    meta: `${prefix}meta:${tag}`, //                 hash: epoch, seq (last place given), served, rate
    inflight: `${prefix}inflight:${tag}`, //         hash: batch id -> in-flight entry (formats.ts)
    deadlines: `${prefix}deadlines:${tag}`, //       sorted set: batch id -> its latest hold deadline
    batchPrefix: `${prefix}batch:${tag}:`, //        a settled batch's outcome (formats.ts)
    lease: `${prefix}lease:${tag}`, //               which processor serves the type
    bought: `${prefix}bought:${tag}`, //             hash: user id -> tickets booked (the limit's tally)
    prequeue: `${prefix}prequeue:${tag}`, //         sorted set: token id -> random rank, waiting for the sale's start
    // a pub/sub channel, not a key: token ids whose state changed where meta's served mark does
    // not show it (settle-4.lua, finish-2.lua); live streams listen (src/streams/notices.ts)
    changes: `${prefix}changes:${tag}`,
    recordPrefix, //                                 reservation:{T}:<id>, a token's record (the original's key)
    // token-ticket-type:{T}:<id>: the token's ticket type, the original service's mapping key.
    // Our tokens carry their type inside the signature, so nothing here reads it; it is kept,
    // living exactly as long as the place, because the product's contract names it: tools and
    // operators of the original look a token's type up there.
    mappingPrefix,
    userPrefix, //                                   user:{T}:<user id> -> their live token id (I4)
    record: (id: string) => recordPrefix + id,
    mapping: (id: string) => mappingPrefix + id,
    user: (userId: string) => userPrefix + userId,
  };
}
export type Keys = ReturnType<typeof buildKeys>;

/** Ticket types with people waiting; joins add to it, the processor drains it. */
export const activeKey = (prefix: string) => `${prefix}active-ticket-types`;

/**
 * Ticket types that may have a pre-queue to open at their sale's start; joins add to it, the
 * processor opens the pre-queue and takes the type off (processing/sale-start.ts). Named beside
 * the active set: whoever knows that one (the processor) knows this one.
 */
export const prequeuedKey = (active: string) => `${active}:prequeued`;
