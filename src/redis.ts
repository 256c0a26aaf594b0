// Redis client factory, key builders (hash-tagged by ticket type) and the script registry.
import Redis from "ioredis";
import { DEPENDENCY_TIMEOUT_MS } from "./timing";
import claim from "../lua/claim-3.lua" with { type: "text" };
import finish from "../lua/finish-2.lua" with { type: "text" };
import join from "../lua/join-3.lua" with { type: "text" };
import lease from "../lua/lease-1.lua" with { type: "text" };
import leave from "../lua/leave-1.lua" with { type: "text" };
import lookup from "../lua/lookup-2.lua" with { type: "text" };
import settle from "../lua/settle-4.lua" with { type: "text" };
import resolveState from "../lua/includes/resolveState.lua" with { type: "text" };

type Arg = string | number;
type Script = (...args: Arg[]) => Promise<unknown>;

/** File name (with its key count, BullMQ style) and source of each atomic step. */
export const SCRIPTS = {
  tqJoin: ["join-3", join],
  tqClaim: ["claim-3", claim],
  tqSettle: ["settle-4", settle],
  tqFinish: ["finish-2", finish],
  tqLeave: ["leave-1", leave],
  tqLookup: ["lookup-2", lookup],
  tqLease: ["lease-1", lease],
} as const;

/** Shared helpers, inlined where a script says `--@include <name>` (BullMQ's way). */
export const INCLUDES: Record<string, string> = { resolveState };

function expandIncludes(lua: string): string {
  return lua.replace(/^--@include (\w+)$/gm, (_, name: string) => {
    const helper = INCLUDES[name];
    if (helper === undefined) throw new Error(`unknown Lua include ${name}`);
    return helper;
  });
}

export type RedisClient = Redis & Record<keyof typeof SCRIPTS, Script>;

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
  for (const [name, [file, lua]] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: Number(file.split("-").pop()), lua: expandIncludes(lua) });
  }
  return redis as RedisClient;
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
    queue: `${prefix}queue:${tag}`,
    meta: `${prefix}meta:${tag}`,
    inflight: `${prefix}inflight:${tag}`,
    deadlines: `${prefix}deadlines:${tag}`,
    batchPrefix: `${prefix}batch:${tag}:`,
    lease: `${prefix}lease:${tag}`,
    bought: `${prefix}bought:${tag}`,
    recordPrefix,
    mappingPrefix,
    userPrefix,
    record: (id: string) => recordPrefix + id,
    mapping: (id: string) => mappingPrefix + id,
    user: (userId: string) => userPrefix + userId,
  };
}
export type Keys = ReturnType<typeof buildKeys>;

/** Ticket types with people waiting; joins add to it, the processor drains it. */
export const activeKey = (prefix: string) => `${prefix}active-ticket-types`;
