// Each Lua script called against real Redis through its typed wrapper (src/store/scripts.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cluster } from "ioredis";
import { claimBatch, peopleOf } from "../src/processing/claim";
import { decisionOf, type Decision, type JoinReply } from "../src/store/formats";
import type { Keys, RedisClient } from "../src/store/redis";
import { finishInRedis } from "../src/reservations/finish";
import { BOUGHT_TTL_SECONDS, ENDED_TTL_SECONDS, PLACE_TTL_SECONDS } from "../src/domain/timing";
import { createTestEnv, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

/** A token's state as readers see it (a pending token whose batch holds reads as reserved). */
async function seen(ticketTypeId: number, id: string) {
  const k = env.s.keys(ticketTypeId);
  const { state, expiresAt } = await env.s.redis.scripts.lookup({ keys: k, id });
  return { state, expiresAt };
}

/** settle-4.lua through its typed wrapper. */
const settleBatch = (r: RedisClient, k: Keys, batchId: string, decision: Decision, p: { served: number; rate: number | null }) =>
  r.scripts.settle({ keys: k, batchId, decision, ...p });

let nextType = 1000;
const fresh = () => {
  const ticketTypeId = nextType++;
  return { ticketTypeId, k: env.s.keys(ticketTypeId), r: env.s.redis };
};

/** Joins in one join-3.lua call, in order: [user, quantity?, token id?] each; one reply each. */
async function joinMany(ticketTypeId: number, joins: [string, number?, string?][], perUserLimit = 1000): Promise<JoinReply[]> {
  const keys = env.s.keys(ticketTypeId);
  const args = joins.map(([userId, quantity = 1, id = env.s.tokens.issue(ticketTypeId).id]) =>
    ({ id, userId, quantity, token: env.s.tokens.sign(ticketTypeId, id) }));
  return env.s.redis.scripts.join({ keys, perUserLimit, joins: args });
}

async function joinRaw(ticketTypeId: number, user: string, quantity = 1) {
  return (await joinMany(ticketTypeId, [[user, quantity]]))[0]!;
}

/** Every key of a ticket type (its hash tag), on whichever node holds its slot. */
async function keysOfType(ticketTypeId: number): Promise<string[]> {
  const r = env.s.redis;
  const found: string[] = [];
  for (const server of r instanceof Cluster ? r.nodes("master") : [r]) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", `${env.config.REDIS_KEY_PREFIX}*{${ticketTypeId}}*`, "COUNT", 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  return found;
}

/** The id of a join that got a place (new or existing). */
const idOf = (reply: JoinReply): string => {
  if (reply.kind !== "joined" && reply.kind !== "existing") throw new Error(`no place: ${JSON.stringify(reply)}`);
  return reply.id;
};

describe("join-3.lua", () => {
  test("appends new places in order and remembers the user's live place", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = await joinRaw(ticketTypeId, "a", 2);
    const b = await joinRaw(ticketTypeId, "b");
    const ida = idOf(a);
    expect(a).toEqual({ kind: "joined", id: ida, place: 1, served: 0, quantity: 2, foundEmpty: true });
    expect(b).toEqual({ kind: "joined", id: idOf(b), place: 2, served: 0, quantity: 1, foundEmpty: false });
    expect(await r.lrange(k.queue, 0, -1)).toEqual([ida, idOf(b)]);
    expect(await r.hgetall(k.record(ida))).toEqual({
      state: "queued", user: "a", qty: "2", place: "1", line: `${env.s.tokens.sign(ticketTypeId, ida)}\ta\t2\t1`,
    });
    expect(await r.ttl(k.record(ida))).toBeGreaterThan(PLACE_TTL_SECONDS - 5);
    expect(await r.hget(k.users, "a")).toBe(ida);
    expect(await r.ttl(k.users)).toBeGreaterThan(PLACE_TTL_SECONDS - 5);
    // a join makes one key, its record: its user goes into users:{T} (and no token-ticket-type mapping: nothing read one)
    expect((await keysOfType(ticketTypeId)).sort()).toEqual([k.queue, k.meta, k.record(ida), k.record(idOf(b)), k.users].sort());
    const again = await joinRaw(ticketTypeId, "a");
    expect(again).toEqual({ kind: "existing", id: ida, state: "queued", place: 1, served: 0, quantity: 2, expiresAt: null });
    expect(await r.llen(k.queue)).toBe(2);
  });

  test("sets the queue epoch once; a place that ended frees the user to join again", async () => {
    const { ticketTypeId, k, r } = fresh();
    const first = await joinRaw(ticketTypeId, "a");
    const epoch = await r.hget(k.meta, "epoch");
    await r.hset(k.record(idOf(first)), "state", "expired");
    const second = await joinRaw(ticketTypeId, "a");
    expect(second).toMatchObject({ kind: "joined", place: 2 });
    expect(await r.hget(k.meta, "epoch")).toBe(epoch);
  });

  test("a place holding tickets is live until its deadline, then not", async () => {
    const { ticketTypeId, k, r } = fresh();
    const first = await joinRaw(ticketTypeId, "a");
    const claim = await claimBatch(r, k, 1);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(r, k, claim.batchId, decisionOf([{ state: "reserved", expiresAt: Date.now() + 60_000 }]), hold);
    const again = await joinRaw(ticketTypeId, "a");
    expect(again).toMatchObject({ kind: "existing", id: idOf(first), state: "reserved" });
    await r.hset(k.record(idOf(first)), "expires_at", Date.now() - 1);
    expect((await joinRaw(ticketTypeId, "a")).kind).toBe("joined");
  });

  test("many joins in one call answer in order; a user's second join gets the first's place", async () => {
    const { ticketTypeId, k, r } = fresh();
    const again = env.s.tokens.issue(ticketTypeId).id;
    const [a, b, a2, c] = (await joinMany(ticketTypeId, [["a", 2], ["b"], ["a", 3, again], ["c"]])) as JoinReply[];
    const [ida, idb, idc] = [idOf(a!), idOf(b!), idOf(c!)];
    expect(a).toEqual({ kind: "joined", id: ida, place: 1, served: 0, quantity: 2, foundEmpty: true });
    expect(b).toEqual({ kind: "joined", id: idb, place: 2, served: 0, quantity: 1, foundEmpty: false });
    expect(a2).toEqual({ kind: "existing", id: ida, state: "queued", place: 1, served: 0, quantity: 2, expiresAt: null });
    expect(c).toEqual({ kind: "joined", id: idc, place: 3, served: 0, quantity: 1, foundEmpty: false });
    expect(await r.lrange(k.queue, 0, -1)).toEqual([ida, idb, idc]);
    expect(await r.hget(k.users, "a")).toBe(ida);
    expect(await r.exists(k.record(again))).toBe(0);
    expect(await r.hgetall(k.record(idc))).toEqual({
      state: "queued", user: "c", qty: "1", place: "3", line: `${env.s.tokens.sign(ticketTypeId, idc)}\tc\t1\t3`,
    });
  });

  test("the one join that finds the queue empty says so, wherever it is in the call", async () => {
    const { ticketTypeId, k, r } = fresh();
    const foundEmpty = (j: JoinReply) => j.kind === "joined" && j.foundEmpty;
    expect((await joinMany(ticketTypeId, [["a"], ["b"]])).map(foundEmpty)).toEqual([true, false]);
    expect((await joinMany(ticketTypeId, [["c"], ["d"]])).map(foundEmpty)).toEqual([false, false]);
    await claimBatch(r, k, 10); // empties the queue; a..d are pending
    const replies = await joinMany(ticketTypeId, [["a"], ["e"], ["f"]]);
    expect(replies.map((j) => j.kind)).toEqual(["existing", "joined", "joined"]);
    expect(replies.map(foundEmpty)).toEqual([false, true, false]);
    expect(replies.map((j) => j.kind === "joined" && j.place)).toEqual([false, 5, 6]);
    expect(await r.lrange(k.queue, 0, -1)).toEqual([idOf(replies[1]!), idOf(replies[2]!)]);
    expect(await r.hget(k.meta, "seq")).toBe("6");
  });

  test("the same call again (a retry after its connection closed) gives the same new place, not a conflict", async () => {
    const { ticketTypeId, k } = fresh();
    const id = env.s.tokens.issue(ticketTypeId).id;
    const first = await joinMany(ticketTypeId, [["a", 1, id], ["b"]]);
    const again = await joinMany(ticketTypeId, [["a", 1, id]]);
    expect(again).toEqual([{ kind: "joined", id, place: 1, served: 0, quantity: 1, foundEmpty: false }]);
    expect(first[0]).toEqual({ kind: "joined", id, place: 1, served: 0, quantity: 1, foundEmpty: true });
    expect(await env.s.redis.lrange(k.queue, 0, -1)).toHaveLength(2); // no second entry
  });

  test("users:{T} lives as long as the longest place in it, never less", async () => {
    const { ticketTypeId, k, r } = fresh();
    await joinRaw(ticketTypeId, "a");
    await r.expire(k.users, 100); // as if the last join were a day ago
    await joinRaw(ticketTypeId, "b");
    expect(await r.ttl(k.users)).toBeGreaterThan(PLACE_TTL_SECONDS - 5); // a join renews it
    await r.expire(k.users, 100);
    const claim = await claimBatch(r, k, 1);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(r, k, claim.batchId, decisionOf([{ state: "queued" }]), hold);
    expect(await r.ttl(k.users)).toBeGreaterThan(PLACE_TTL_SECONDS - 5); // so does a place sent back
    await r.expire(k.users, PLACE_TTL_SECONDS * 2); // a pre-queued place lives longer
    await joinRaw(ticketTypeId, "c");
    expect(await r.ttl(k.users)).toBeGreaterThan(PLACE_TTL_SECONDS * 2 - 5); // and is not cut short
  });

  test("a join that fails in the script fails alone; the others of the call stand", async () => {
    const { ticketTypeId, k, r } = fresh();
    await r.hset(k.users, "damaged", "broken-id");
    await r.set(k.record("broken-id"), "not a hash"); // HMGET on it raises WRONGTYPE
    const [a, bad, b] = (await joinMany(ticketTypeId, [["a"], ["damaged"], ["b"]])) as JoinReply[];
    expect(a).toMatchObject({ kind: "joined", place: 1 });
    expect(bad).toMatchObject({ kind: "error", message: expect.stringContaining("WRONGTYPE") });
    expect(b).toMatchObject({ kind: "joined", place: 2 });
    expect(await r.lrange(k.queue, 0, -1)).toEqual([idOf(a!), idOf(b!)]);
  });
});

describe("claim-3.lua", () => {
  test("pops a batch in order, marks it pending, records it in flight as one entry", async () => {
    const { ticketTypeId, k, r } = fresh();
    expect(await claimBatch(r, k, 10)).toEqual({ kind: "empty" });
    const ids: string[] = [];
    for (const user of ["a", "b", "c"]) ids.push(idOf(await joinRaw(ticketTypeId, user, user === "b" ? 3 : 1)));
    const claim = await claimBatch(r, k, 2);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    expect(claim.epoch).toBeGreaterThan(0);
    expect(claim.popped).toBe(2);
    expect(claim.size).toBe(2);
    const sign = (id: string) => env.s.tokens.sign(ticketTypeId, id);
    expect(claim.lines).toBe(`${sign(ids[0]!)}\ta\t1\t1\n${sign(ids[1]!)}\tb\t3\t2`);
    expect(peopleOf(claim)).toEqual([
      { token: sign(ids[0]!), userId: "a", quantity: 1, place: 1 },
      { token: sign(ids[1]!), userId: "b", quantity: 3, place: 2 },
    ]);
    expect(await r.hmget(k.record(ids[1]!), "state", "batch", "pos")).toEqual(["pending", claim.batchId, "2"]);
    const inflight = await r.hgetall(k.inflight);
    expect(Object.keys(inflight)).toEqual([claim.batchId]);
    expect(inflight[claim.batchId]).toMatch(new RegExp(`^\\d+:${ids[0]},${ids[1]}$`));
    expect(await r.lrange(k.queue, 0, -1)).toEqual([ids[2]!]);
    // refuses while a batch it was not told about is in flight; allows the caller's own
    expect(await claimBatch(r, k, 2)).toEqual({ kind: "busy" });
    expect(await claimBatch(r, k, 2, ["another-batch"])).toEqual({ kind: "busy" });
    expect((await claimBatch(r, k, 2, [claim.batchId])).kind).toBe("claimed");
  });

  test("the same claim again (a retry after its connection closed) takes nobody more", async () => {
    const { ticketTypeId, k, r } = fresh();
    for (const user of ["a", "b", "c"]) await joinRaw(ticketTypeId, user);
    const args = { keys: k, size: 1, now: Date.now(), batchId: "repeated", owned: ["repeated"] };
    expect(await r.scripts.claim(args)).toMatchObject({ kind: "claimed" });
    const inflight = await r.hgetall(k.inflight);
    expect(await r.scripts.claim(args)).toEqual({ kind: "busy" });
    expect(await r.hgetall(k.inflight)).toEqual(inflight);
    expect(await r.llen(k.queue)).toBe(2);
  });

  test("drops tokens that left the queue", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a"));
    const b = idOf(await joinRaw(ticketTypeId, "b"));
    await r.hset(k.record(a), "state", "released");
    const claim = await claimBatch(r, k, 10);
    expect(claim.kind === "claimed" && claim.popped).toBe(2);
    expect(claim.kind === "claimed" && peopleOf(claim).map((p) => p.token)).toEqual([env.s.tokens.sign(ticketTypeId, b)]);
    expect(await r.hlen(k.inflight)).toBe(1);
  });
});

const hold = { served: 0, rate: null };

describe("settle-4.lua", () => {
  test("reserves, returns to the head in order, ends the rest, and leaves flight", async () => {
    const { ticketTypeId, k, r } = fresh();
    const ids: string[] = [];
    for (const user of ["a", "b", "c", "d", "e", "f"]) ids.push(idOf(await joinRaw(ticketTypeId, user)));
    const claim = await claimBatch(r, k, 5);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    const deadline = Date.now() + 60_000;
    const back = await settleBatch(r, k, claim.batchId, decisionOf([
      { state: "reserved", expiresAt: deadline },
      { state: "sold_out" },
      { state: "reserved", expiresAt: deadline + 5 }, // its own deadline
      { state: "queued" },
      { state: "queued" },
    ]), { served: 2, rate: 12.5 });
    expect(back).toBe(2);
    // the holds are written once, for the batch; records point at it
    expect(await r.get(k.batchPrefix + claim.batchId)).toBe(`${deadline}:RSRQQ:${ids.slice(0, 5).join(",")}`);
    expect(await r.hget(k.record(ids[0]!), "state")).toBe("pending");
    expect(await seen(ticketTypeId, ids[0]!)).toEqual({ state: "reserved", expiresAt: deadline });
    expect(await seen(ticketTypeId, ids[2]!)).toEqual({ state: "reserved", expiresAt: deadline + 5 });
    expect(await r.zscore(k.deadlines, claim.batchId)).toBe(String(deadline + 5));
    expect(await r.hget(k.record(ids[1]!), "state")).toBe("sold_out");
    expect(await r.hget(k.users, "b")).toBeNull();
    expect(await r.ttl(k.record(ids[1]!))).toBeLessThanOrEqual(ENDED_TTL_SECONDS);
    expect(await r.lrange(k.queue, 0, -1)).toEqual([ids[3]!, ids[4]!, ids[5]!]);
    expect(await r.hget(k.record(ids[3]!), "state")).toBe("queued");
    expect(await r.ttl(k.record(ids[3]!))).toBeGreaterThan(PLACE_TTL_SECONDS - 5);
    expect(await r.hlen(k.inflight)).toBe(0);
    expect(await r.hmget(k.meta, "served", "rate")).toEqual(["2", "12.500"]);
  });

  test("a batch no longer in flight is left alone, and a reserved mark never overwrites a later state", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a"));
    const b = idOf(await joinRaw(ticketTypeId, "b"));
    const claim = await claimBatch(r, k, 2);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await r.hset(k.record(a), "state", "confirmed"); // a confirm raced ahead of the settle
    const outcomes = decisionOf([{ state: "reserved", expiresAt: Date.now() + 60_000 }, { state: "queued" }]);
    expect(await settleBatch(r, k, claim.batchId, outcomes, hold)).toBe(1);
    expect((await seen(ticketTypeId, a)).state).toBe("confirmed");
    expect(await settleBatch(r, k, claim.batchId, outcomes, hold)).toBe(-1);
    expect(await r.lrange(k.queue, 0, -1)).toEqual([b]);
  });

  test("returns thousands to the head in order (past Lua's unpack limit)", async () => {
    const { ticketTypeId, k, r } = fresh();
    const ids = Array.from({ length: 9000 }, () => env.s.tokens.issue(ticketTypeId).id);
    await joinMany(ticketTypeId, ids.map((id, i) => [`u${i}`, 1, id]));
    const claim = await claimBatch(r, k, 9000);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    const deadline = Date.now() + 60_000;
    const outcomes = ids.map((_, i) => ({ state: i < 4500 ? "reserved" as const : "queued" as const, expiresAt: deadline }));
    expect(await settleBatch(r, k, claim.batchId, decisionOf(outcomes), hold)).toBe(4500);
    expect(await r.lrange(k.queue, 0, -1)).toEqual(ids.slice(4500));
    expect((await seen(ticketTypeId, ids[4499]!)).state).toBe("reserved");
    expect((await seen(ticketTypeId, ids[4500]!)).state).toBe("queued");
  });
});

describe("finish-2.lua", () => {
  test("records the final state and frees the user", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a"));
    const claim = await claimBatch(r, k, 1);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(r, k, claim.batchId, decisionOf([{ state: "reserved", expiresAt: Date.now() + 60_000 }]), hold);
    const token = env.s.tokens.sign(ticketTypeId, a);
    await finishInRedis(env.s, [{ token, ticketTypeId, state: "confirmed", bookingId: 77 }]);
    expect(await r.hgetall(k.record(a))).toMatchObject({ state: "confirmed", booking_id: "77" });
    expect((await seen(ticketTypeId, a)).state).toBe("confirmed");
    expect(await r.ttl(k.record(a))).toBeLessThanOrEqual(ENDED_TTL_SECONDS);
    expect(await r.hget(k.users, "a")).toBeNull();
  });

  test("a booking adds its tickets to the user's tally once; join-3.lua refuses a join that would pass the limit", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a", 2));
    const claim = await claimBatch(r, k, 1);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(r, k, claim.batchId, decisionOf([{ state: "reserved", expiresAt: Date.now() + 60_000 }]), hold);
    const token = env.s.tokens.sign(ticketTypeId, a);
    await finishInRedis(env.s, [{ token, ticketTypeId, state: "confirmed", bookingId: 5 }]);
    await finishInRedis(env.s, [{ token, ticketTypeId, state: "confirmed", bookingId: 5 }]); // a repeat counts nothing
    expect(await r.hget(k.bought, "a")).toBe("2");
    const call = async (quantity: number) => (await joinMany(ticketTypeId, [["a", quantity]], 3))[0]!;
    expect(await call(2)).toEqual({ kind: "limit", booked: 2 });
    expect((await call(1)).kind).toBe("joined");
  });

  test("the tally lives some days after the type's last booking: each booking renews it, other endings do not", async () => {
    const { ticketTypeId, k, r } = fresh();
    const ids = [idOf(await joinRaw(ticketTypeId, "a")), idOf(await joinRaw(ticketTypeId, "b")), idOf(await joinRaw(ticketTypeId, "c"))];
    const claim = await claimBatch(r, k, 3);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(r, k, claim.batchId, decisionOf(ids.map(() => ({ state: "reserved" as const, expiresAt: Date.now() + 60_000 }))), hold);
    const end = (id: string, state: "confirmed" | "released") =>
      finishInRedis(env.s, [{ token: env.s.tokens.sign(ticketTypeId, id), ticketTypeId, state, bookingId: state === "confirmed" ? 1 : null }]);
    await end(ids[0]!, "confirmed");
    expect(await r.ttl(k.bought)).toBeGreaterThan(BOUGHT_TTL_SECONDS - 5);
    expect(await r.ttl(k.bought)).toBeLessThanOrEqual(BOUGHT_TTL_SECONDS);
    await r.expire(k.bought, 100); // as if the last booking were days ago
    await end(ids[1]!, "released");
    expect(await r.ttl(k.bought)).toBeLessThanOrEqual(100);
    await end(ids[2]!, "confirmed"); // another booking: the tally lives on
    expect(await r.ttl(k.bought)).toBeGreaterThan(BOUGHT_TTL_SECONDS - 5);
    expect(await r.hgetall(k.bought)).toEqual({ a: "1", c: "1" });
  });

  test("a record Redis lost is skipped, not made up", async () => {
    const { ticketTypeId, k, r } = fresh();
    const id = env.s.tokens.issue(ticketTypeId).id;
    const updated = await r.scripts.finish({ keys: k, ended: [{ id, state: "expired" }] });
    expect(updated).toBe(0);
    expect(await r.exists(k.record(id))).toBe(0);
  });
});

describe("cancel-2.lua", () => {
  const REF = "7K3QX9M2TD";
  /** Users' tokens holding tickets (each settled reserved), by user. */
  async function holding(ticketTypeId: number, users: [string, number][]) {
    const k = env.s.keys(ticketTypeId);
    const ids = [];
    for (const [user, quantity] of users) ids.push(idOf(await joinRaw(ticketTypeId, user, quantity)));
    const claim = await claimBatch(env.s.redis, k, users.length);
    if (claim.kind !== "claimed") throw new Error("expected a claim");
    await settleBatch(env.s.redis, k, claim.batchId, decisionOf(users.map(() => ({ state: "reserved" as const, expiresAt: Date.now() + 60_000 }))), hold);
    return ids;
  }
  const book = (ticketTypeId: number, id: string, bookingId: number) =>
    finishInRedis(env.s, [{ token: env.s.tokens.sign(ticketTypeId, id), ticketTypeId, state: "confirmed", bookingId, bookingRef: REF }]);
  const cancel = (ticketTypeId: number, id: string, userId: string, quantity: number, moved: boolean) =>
    env.s.redis.scripts.cancel({ keys: env.s.keys(ticketTypeId), booking: { id, userId, quantity, bookingId: 9, bookingRef: REF, moved } });

  test("a booking reads cancelled with its id and reference; the tally goes down once; a late confirm's tidy changes nothing", async () => {
    const { ticketTypeId, k, r } = fresh();
    const [a, b] = await holding(ticketTypeId, [["a", 2], ["b", 1]]);
    await book(ticketTypeId, a!, 9);
    await book(ticketTypeId, b!, 10);
    expect(await r.scripts.lookup({ keys: k, id: a! })).toMatchObject({ state: "confirmed", bookingId: 9, bookingRef: REF });
    expect(await r.hgetall(k.bought)).toEqual({ a: "2", b: "1" });

    expect(await cancel(ticketTypeId, a!, "a", 2, true)).toBe(true);
    expect(await r.scripts.lookup({ keys: k, id: a! })).toMatchObject({ state: "cancelled", bookingId: 9, bookingRef: REF });
    expect(await r.ttl(k.record(a!))).toBeGreaterThan(ENDED_TTL_SECONDS - 5);
    expect(await r.hgetall(k.bought)).toEqual({ b: "1" }); // emptied: the entry goes
    expect(await cancel(ticketTypeId, a!, "a", 2, false)).toBe(false); // a repeat
    await book(ticketTypeId, a!, 9); // the shop's confirm replayed after the cancel
    expect(await r.hget(k.record(a!), "state")).toBe("cancelled");
    expect(await r.hgetall(k.bought)).toEqual({ b: "1" });
    expect((await joinRaw(ticketTypeId, "a", 2)).kind).toBe("joined"); // the limit no longer counts it
  });

  test("a record not yet tidied by its confirm is never counted; a lost record: only the cancel that moved the booking lowers the tally", async () => {
    const { ticketTypeId, k, r } = fresh();
    const [a, b] = await holding(ticketTypeId, [["a", 1], ["b", 1]]);
    // a: cancelled before its confirm's tidy reached Redis (the record still pending)
    expect(await cancel(ticketTypeId, a!, "a", 1, true)).toBe(false);
    await book(ticketTypeId, a!, 9); // the tidy, late
    expect(await r.hget(k.record(a!), "state")).toBe("cancelled");
    expect(await r.hget(k.bought, "a")).toBeNull();
    // b: booked, then the first cancel never reached Redis; a repeat makes good
    await book(ticketTypeId, b!, 10);
    expect(await cancel(ticketTypeId, b!, "b", 1, false)).toBe(true);
    expect(await r.hget(k.record(b!), "state")).toBe("cancelled");
    expect(await r.hget(k.bought, "b")).toBeNull();
    // c: booked long ago, its record gone; the tally keeps 3
    const c = env.s.tokens.issue(ticketTypeId).id;
    await r.hset(k.bought, "c", 3);
    expect(await cancel(ticketTypeId, c, "c", 1, false)).toBe(false);
    expect(await cancel(ticketTypeId, c, "c", 1, true)).toBe(true);
    expect(await r.hget(k.bought, "c")).toBe("2");
    expect(await r.exists(k.record(c))).toBe(0); // no record made up
  });
});

describe("leave-1.lua", () => {
  test("only a queued place can leave", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a"));
    const leave = (id: string) => r.scripts.leave({ keys: k, id });
    expect(await leave(a)).toBe("released");
    expect(await r.hget(k.users, "a")).toBeNull();
    expect(await leave(a)).toBe("released");
    const b = idOf(await joinRaw(ticketTypeId, "b"));
    await r.hset(k.record(b), "state", "pending");
    expect(await leave(b)).toBe("pending");
    expect(await r.hget(k.users, "b")).toBe(b);
    expect(await leave("nope")).toBeNull();
  });
});

describe("lookup-2.lua", () => {
  test("answers state, quantity, place, deadline, booking, served and rate at once", async () => {
    const { ticketTypeId, k, r } = fresh();
    const a = idOf(await joinRaw(ticketTypeId, "a", 3));
    await r.hset(k.meta, "served", 0, "rate", "4.000");
    expect(await r.scripts.lookup({ keys: k, id: a })).toEqual({
      state: "queued", quantity: 3, place: 1, expiresAt: null, bookingId: null, served: 0, rate: 4, bookingRef: null,
    });
    expect(await r.scripts.lookup({ keys: k, id: "missing" })).toEqual({
      state: null, quantity: null, place: null, expiresAt: null, bookingId: null, served: 0, rate: 4, bookingRef: null,
    });
  });
});

describe("lease-1.lua", () => {
  test("one holder at a time; the holder renews and gives it up; it lapses", async () => {
    const { k, r } = fresh();
    expect(await r.scripts.lease({ keys: k, owner: "p1", ms: 200 })).toBe(true);
    expect(await r.scripts.lease({ keys: k, owner: "p2", ms: 200 })).toBe(false);
    expect(await r.scripts.lease({ keys: k, owner: "p1", ms: 5000 })).toBe(true);
    expect(await r.pttl(k.lease)).toBeGreaterThan(4000);
    expect(await r.scripts.lease({ keys: k, owner: "p2", ms: 0 })).toBe(false); // not the holder: nothing happens
    expect(await r.get(k.lease)).toBe("p1");
    expect(await r.scripts.lease({ keys: k, owner: "p1", ms: 0 })).toBe(false);
    expect(await r.exists(k.lease)).toBe(0);
    expect(await r.scripts.lease({ keys: k, owner: "p2", ms: 50 })).toBe(true);
    await waitFor("the lease to lapse", async () => (await r.exists(k.lease)) === 0, 1000, 5);
    expect(await r.scripts.lease({ keys: k, owner: "p3", ms: 50 })).toBe(true);
  });
});
