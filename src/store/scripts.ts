// Every Lua script, registered once on a client and called through one typed method each
// (BullMQ's Scripts): callers pass named arguments, in the order of the script's header, and
// get its reply parsed (src/store/formats.ts). Nothing else calls a script.
import type { Cluster, default as Redis } from "ioredis";
import cancel from "../../lua/cancel-2.lua" with { type: "text" };
import claim from "../../lua/claim-3.lua" with { type: "text" };
import finish from "../../lua/finish-2.lua" with { type: "text" };
import join from "../../lua/join-3.lua" with { type: "text" };
import lease from "../../lua/lease-1.lua" with { type: "text" };
import leave from "../../lua/leave-1.lua" with { type: "text" };
import lookup from "../../lua/lookup-2.lua" with { type: "text" };
import openPrequeue from "../../lua/open-prequeue-3.lua" with { type: "text" };
import settle from "../../lua/settle-4.lua" with { type: "text" };
import enqueue from "../../lua/includes/enqueue.lua" with { type: "text" };
import openPrequeueInclude from "../../lua/includes/openPrequeue.lua" with { type: "text" };
import resolveState from "../../lua/includes/resolveState.lua" with { type: "text" };
import saleStart from "../../lua/includes/saleStart.lua" with { type: "text" };
import users from "../../lua/includes/users.lua" with { type: "text" };
import { parseClaimReply, parseJoinReplies, parseLookup, type ClaimReply, type Decision, type JoinReply, type Lookup } from "./formats";
import { pipelined, type Keys } from "./redis";
import { storedState, type TokenState } from "../domain/states";
import { BOUGHT_TTL_SECONDS, ENDED_TTL_SECONDS, PLACE_TTL_SECONDS } from "../domain/timing";

/** Each script's file (its key count in the name, BullMQ style) and source, by command name. */
export const SCRIPT_FILES = {
  tqJoin: ["join-3", join],
  tqClaim: ["claim-3", claim],
  tqSettle: ["settle-4", settle],
  tqFinish: ["finish-2", finish],
  tqLeave: ["leave-1", leave],
  tqLookup: ["lookup-2", lookup],
  tqLease: ["lease-1", lease],
  tqOpenPrequeue: ["open-prequeue-3", openPrequeue],
  tqCancel: ["cancel-2", cancel],
} as const;

/** Shared helpers, inlined where a script says `--@include <name>` (BullMQ's way). */
export const INCLUDES: Record<string, string> = { resolveState, enqueue, openPrequeue: openPrequeueInclude, saleStart, users };

type Arg = string | number;
type WithScripts = (Redis | Cluster) & Record<keyof typeof SCRIPT_FILES, (...args: Arg[]) => Promise<unknown>>;

function expandIncludes(lua: string): string {
  return lua.replace(/^--@include (\w+)$/gm, (_, name: string) => {
    const helper = INCLUDES[name];
    if (helper === undefined) throw new Error(`unknown Lua include ${name}`);
    return helper;
  });
}

/** Defines every script as a command of the client (and of its pipelines). */
export function defineScripts(redis: Redis | Cluster): void {
  for (const [name, [file, lua]] of Object.entries(SCRIPT_FILES)) {
    redis.defineCommand(name, { numberOfKeys: Number(file.split("-").pop()), lua: expandIncludes(lua) });
  }
}

/** One join of a join-3.lua call: a fresh token id and signed token for the user. */
export type Join = { id: string; userId: string; quantity: number; token: string };

/** A hold ended in PostgreSQL, for finish-2.lua (a booking with its id and reference; cancelled: reconcile's catching up). */
export type Finished = {
  id: string; state: Extract<TokenState, "confirmed" | "released" | "expired" | "cancelled">; bookingId?: number | null; bookingRef?: string | null;
};

/** A booking PostgreSQL cancelled, for cancel-2.lua; `moved`: this cancel is the one that cancelled it. */
export type CancelledInRedis = { id: string; userId: string; quantity: number; bookingId: number; bookingRef: string; moved: boolean };

/**
 * The keys and arguments of one join-3.lua call (a pipeline in bench/ sends them too).
 * `saleStartsAt`: the type's sale start in ms (0: none); join-3.lua compares it with Redis's clock.
 */
export function joinArgs(k: Keys, perUserLimit: number, joins: Join[], saleStartsAt = 0): Arg[] {
  const args: Arg[] = [k.queue, k.meta, k.bought, PLACE_TTL_SECONDS, Date.now(), k.recordPrefix, k.users,
    k.batchPrefix, perUserLimit, saleStartsAt, k.prequeue];
  // ranks always: the operator's start in meta:{T} may be ahead where the catalog has none yet
  const ranks = prequeueRanks(joins.length);
  joins.forEach((j, i) => args.push(j.id, j.userId, j.quantity, j.token, ranks[i]!));
  return args;
}

/**
 * A uniformly random rank per join, the pre-queue's order at the sale's start: whole numbers
 * below 2^53 (exact as Redis scores; a tie, ordered by token id, i.e. by arrival, has odds of
 * about n^2 / 2^54). Token ids are UUIDv7, ordered by time, so they cannot serve.
 */
function prequeueRanks(count: number): number[] {
  const words = crypto.getRandomValues(new Uint32Array(count * 2));
  return Array.from({ length: count }, (_, i) => (words[2 * i]! & 0x1fffff) * 2 ** 32 + words[2 * i + 1]!);
}

const lookupArgs = (k: Keys, id: string): Arg[] => [k.record(id), k.meta, k.batchPrefix];

export class Scripts {
  private readonly redis: WithScripts;

  constructor(redis: Redis | Cluster) {
    this.redis = redis as WithScripts;
  }

  /** join-3.lua: many joins of one type in order; one reply each. `saleStartsAt` in ms, 0 (the default): none. */
  async join(p: { keys: Keys; perUserLimit: number; joins: Join[]; saleStartsAt?: number }): Promise<JoinReply[]> {
    return parseJoinReplies(String(await this.redis.tqJoin(...joinArgs(p.keys, p.perUserLimit, p.joins, p.saleStartsAt))), p.joins);
  }

  /**
   * claim-3.lua: the next batch off the head of the queue, recorded in flight under `batchId`;
   * at most what `holdsPerMinute` allows now (null: no ceiling).
   */
  async claim(p: {
    keys: Keys; size: number; now: number; batchId: string; owned: Iterable<string>; holdsPerMinute?: number | null;
  }): Promise<ClaimReply> {
    const k = p.keys;
    return parseClaimReply(String(await this.redis.tqClaim(
      k.queue, k.inflight, k.meta, p.size, p.now, k.recordPrefix, p.batchId, [...p.owned].join(","), p.holdsPerMinute ?? "",
    )));
  }

  /**
   * settle-4.lua: what PostgreSQL decided for a batch in flight. Returns how many went back to
   * the head of the queue, or -1 when the batch was no longer in flight.
   */
  async settle(p: { keys: Keys; batchId: string; decision: Decision; served: number; rate: number | null }): Promise<number> {
    const k = p.keys;
    const d = p.decision;
    return Number(await this.redis.tqSettle(
      k.queue, k.inflight, k.deadlines, k.meta,
      // a batch's outcome lives as long as a queue place, so no record outlives the outcome it points at
      k.recordPrefix, k.users, k.batchPrefix, PLACE_TTL_SECONDS * 1000, ENDED_TTL_SECONDS, PLACE_TTL_SECONDS,
      p.served, p.rate === null ? "" : p.rate.toFixed(3), p.batchId, d.codes, d.deadline ?? "", k.changes, ...d.overrides,
    ));
  }

  /** finish-2.lua: Redis follows PostgreSQL's ended holds (all of one ticket type); returns how many records it updated. */
  async finish(p: { keys: Keys; ended: Finished[] }): Promise<number> {
    if (p.ended.length === 0) return 0;
    const k = p.keys;
    const quadruples = p.ended.flatMap((e) => [e.id, e.state, e.bookingId ?? "", e.bookingRef ?? ""]);
    return Number(await this.redis.tqFinish(
      k.record(p.ended[0]!.id), k.bought, k.recordPrefix, k.users, ENDED_TTL_SECONDS, k.changes,
      BOUGHT_TTL_SECONDS, ...quadruples,
    ));
  }

  /** cancel-2.lua: Redis follows a cancel in PostgreSQL; whether the user's tally went down. */
  async cancel(p: { keys: Keys; booking: CancelledInRedis }): Promise<boolean> {
    const k = p.keys;
    const b = p.booking;
    return Number(await this.redis.tqCancel(
      k.record(b.id), k.bought, b.userId, b.quantity, b.bookingId, b.bookingRef, b.moved ? 1 : 0, ENDED_TTL_SECONDS, k.changes, b.id,
    )) === 1;
  }

  /** leave-1.lua: gives a queued or pre-queued place back; returns 'released', or the state it was in (null: no record). */
  async leave(p: { keys: Keys; id: string }): Promise<TokenState | null> {
    const k = p.keys;
    return storedState(String(await this.redis.tqLeave(k.record(p.id), k.users, ENDED_TTL_SECONDS, p.id, k.prequeue, k.changes)));
  }

  /** lookup-2.lua: everything status needs about one token, in O(1). */
  async lookup(p: { keys: Keys; id: string }): Promise<Lookup> {
    return parseLookup(String(await this.redis.tqLookup(...lookupArgs(p.keys, p.id))));
  }

  /** lookup-2.lua for many tokens in one round trip; an error in place of each look-up that failed. */
  async lookupMany(tokens: { keys: Keys; id: string }[]): Promise<(Lookup | Error)[]> {
    // one pipeline per ticket type on a cluster (pipelined), one in all on one Redis
    const replies = await pipelined(this.redis, tokens, (t) => t.keys.meta, (pipeline, t) =>
      (pipeline as unknown as { tqLookup(...args: Arg[]): void }).tqLookup(...lookupArgs(t.keys, t.id)));
    return replies.map(([err, reply]) => err ?? parseLookup(String(reply)));
  }

  /**
   * open-prequeue-3.lua: once the sale has started by Redis's clock, every pre-queued token gets
   * a place, in random order; returns how many (0: nothing to open), or -1 before the start.
   */
  async openPrequeue(p: { keys: Keys; saleStartsAt: number }): Promise<number> {
    const k = p.keys;
    return Number(await this.redis.tqOpenPrequeue(
      k.prequeue, k.queue, k.meta, k.recordPrefix, k.users, PLACE_TTL_SECONDS, p.saleStartsAt,
    ));
  }

  /** lease-1.lua: take or renew the type's lease for `ms` (0 gives it up); whether the caller holds it afterwards. */
  async lease(p: { keys: Keys; owner: string; ms: number }): Promise<boolean> {
    return Number(await this.redis.tqLease(p.keys.lease, p.owner, p.ms)) === 1;
  }
}
