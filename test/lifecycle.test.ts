// The processor and the cleaner: batches, the sold-out rule, fairness, expiry and refill.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expireDueHolds } from "../src/expiry/expire";
import { grantHolds } from "../src/processing/grant";
import { bookHold } from "../src/reservations/confirm";
import type { Sql } from "../src/store/db";
import { createTestEnv, join, joinMany, redisStateOf, statusOf, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const stockOf = (id: number) => env.stockOf(id);
const statuses = async (tokens: string[]) => Promise.all(tokens.map(async (t) => (await statusOf(env, t)).status));

/** A batch hook that makes each claim take `ms` more (a slow claim, not a wait); `onFirstClaim` runs before the first one's. */
function paced(ms: number, onFirstClaim?: () => Promise<void>) {
  let claims = 0;
  return async (step: string) => {
    if (step !== "claimed") return;
    if (++claims === 1) await onFirstClaim?.();
    await Bun.sleep(ms); // the claim's own slowness is what these tests vary
  };
}

describe("processor", () => {
  test("serves every ticket type with people waiting, in batches, in join order", async () => {
    const a = await env.ticketType({ capacity: 250 });
    const b = await env.ticketType({ capacity: 3 });
    const aTokens = await joinMany(env, a, 250, "pa");
    const bTokens = await joinMany(env, b, 5, "pb");
    const processor = env.processor({ batch: { batchSize: 100 } });
    // one round gives every waiting type a turn
    await processor.tick();
    const served = await env.sql`SELECT DISTINCT ticket_type_id FROM reservations WHERE ticket_type_id IN (${a}, ${b})`;
    expect(served).toHaveLength(2);
    await env.drain(processor);
    expect(await statuses(aTokens)).toEqual(aTokens.map(() => "reserved"));
    expect(await statuses(bTokens)).toEqual(["reserved", "reserved", "reserved", "queued", "queued"]);
    expect(await stockOf(a)).toBe(0);
    const order = await env.sql`SELECT queue_place FROM reservations WHERE ticket_type_id = ${a} ORDER BY grant_seq`;
    expect(order.map((r) => Number(r.queue_place))).toEqual(aTokens.map((_, i) => i + 1));
    await env.expectInvariants();
  });

  test("people keep their place while holds are out, and are told sold out once none are", async () => {
    const type = await env.ticketType({ capacity: 2 });
    const [first, second, third] = await joinMany(env, type, 3, "so");
    await env.drain();
    expect(await statuses([first!, second!, third!])).toEqual(["reserved", "reserved", "queued"]);
    expect((await statusOf(env, third!)).position).toBe(1);
    await env.call("POST", "/reservation/confirm", { token: first });
    await env.backdate(second!);
    await env.cleaner().expireNow(); // the second hold lapses: the third person is served
    await env.drain();
    expect((await statusOf(env, third!)).status).toBe("reserved");
    const fourth = await join(env, "so3", type);
    await env.call("POST", "/reservation/confirm", { token: third });
    await env.drain();
    expect((await statusOf(env, fourth)).status).toBe("sold_out");
    expect(await stockOf(type)).toBe(0);
    await env.expectInvariants();
  });

  test("a quantity is one hold; whoever can never be served is told so and the next is served", async () => {
    const type = await env.ticketType({ capacity: 5, per_user_limit: 4 });
    const big = await join(env, "q1", type, 4);
    const tooBig = await join(env, "q2", type, 4); // 1 left, 4 held: waits, it may still come
    const small = await join(env, "q3", type, 1);
    // A blocked head is retried when its stock moves, or after blockedRetryMs (short here).
    const processor = env.processor({ blockedRetryMs: 200 });
    await env.drain(processor);
    expect(await statuses([big, tooBig, small])).toEqual(["reserved", "queued", "queued"]);
    expect(await stockOf(type)).toBe(1);
    await env.call("POST", "/reservation/confirm", { token: big }); // now it can never come
    // a confirm moves no stock, so the blocked head is looked at again only on the retry
    await waitFor("the blocked head to be retried", async () => {
      await processor.tick();
      return (await statusOf(env, tooBig)).status !== "queued";
    }, 5_000, 10);
    await env.drain(processor);
    expect(await statuses([tooBig, small])).toEqual(["sold_out", "reserved"]);
    expect(await stockOf(type)).toBe(0);
    await env.expectInvariants();
  });

  test("when stock runs out with batches claimed ahead, they all go back in join order", async () => {
    const type = await env.ticketType({ capacity: 30 });
    const tokens = await joinMany(env, type, 400, "ahead");
    // Each claim finishes slowly, so one is always in flight when the stock runs out (second batch).
    const processor = env.processor({ batch: { batchSize: 20, after: paced(30) } });
    await processor.tick();
    const k = env.s.keys(type);
    expect(await env.s.redis.hlen(k.inflight)).toBe(0);
    const head = await env.s.redis.lrange(k.queue, 0, -1);
    const places = await Promise.all(head.map((id) => env.s.redis.hget(k.record(id), "place")));
    expect(places.map(Number)).toEqual(Array.from({ length: 370 }, (_, i) => 31 + i));
    expect(await statuses(tokens.slice(28, 32))).toEqual(["reserved", "reserved", "queued", "queued"]);
    await env.expectInvariants();
  });

  test("a turn that ends on its time budget leaves nothing in flight", async () => {
    const type = await env.ticketType({ capacity: 1000 });
    await joinMany(env, type, 400, "budget");
    // the turn (500 ms: alone) ends with a claim in flight
    const processor = env.processor({ batch: { batchSize: 20, after: paced(30) } });
    const served = await processor.tick();
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(400);
    expect(await env.s.redis.hlen(env.s.keys(type).inflight)).toBe(0);
    await env.drain(processor);
    await env.expectInvariants();
  });

  test("a lone turn ends early once another type starts waiting", async () => {
    // An env of its own: a type still queued by another test would make no turn here lone.
    const own = await createTestEnv();
    try {
      // Each claim takes `ms` more, so a turn's length shows in how many of the 300 people it serves.
      // Nobody else waiting: one turn serves the whole queue.
      const alone = await own.ticketType({ capacity: 1000 });
      await joinMany(own, alone, 300, "alone");
      // 10 claims of 10 ms: well inside a lone turn (500 ms), even on a loaded machine
      const lone = own.processor({ batch: { batchSize: 30, after: paced(10) } });
      expect(await lone.tick()).toBe(300);
      await own.drain(lone); // the emptied type leaves the active set
      expect(await own.s.redis.smembers(own.s.activeKey)).toEqual([]);

      // The same again, but another type starts waiting during the first claim.
      const busy = await own.ticketType({ capacity: 1000 });
      const other = await own.ticketType({ capacity: 10 });
      await joinMany(own, busy, 300, "lone");
      let latecomer = "";
      const processor = own.processor({
        // 15 claims of 25 ms: far longer than a shared turn (100 ms)
        batch: { batchSize: 20, after: paced(25, async () => void (latecomer = await join(own, "late", other))) },
      });
      const served = await processor.tick();
      // the busy type's turn ended with people still queued, where a lone turn served them all
      expect(served).toBeLessThan(300);
      expect(await own.s.redis.llen(own.s.keys(busy).queue)).toBeGreaterThan(0);
      expect((await statusOf(own, latecomer)).status).toBe("queued"); // not in this round's list
      // the next round, the two types sharing it, serves the latecomer
      await processor.tick();
      expect((await statusOf(own, latecomer)).status).toBe("reserved");
      await own.drain(processor);
      await own.expectInvariants();
    } finally {
      await own.close();
    }
  });

  test("a user who already holds this type under another token is a duplicate (I4 in PostgreSQL)", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const first = await join(env, "dup", type);
    await env.drain();
    // Redis forgets the user's place (data loss); the user joins again
    await env.s.redis.hdel(env.s.keys(type).users, "dup");
    const second = await join(env, "dup", type);
    expect(second).not.toBe(first);
    await env.drain();
    expect(await statuses([first, second])).toEqual(["reserved", "duplicate"]);
    expect(await stockOf(type)).toBe(4);
    await env.expectInvariants();
  });

  test("run() picks up joiners by itself and stops when told", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const stop = new AbortController();
    const running = env.processor().run(stop.signal);
    const token = await join(env, "live", type);
    let status = "queued";
    await waitFor("the joiner to be served", async () => (status = (await statusOf(env, token)).status) === "reserved", 2_000, 10)
      .finally(async () => {
        stop.abort();
        await running;
      });
    expect(status).toBe("reserved");
  });
});

describe("cleaner", () => {
  test("expires due holds and refills their stock exactly once, even with two cleaners racing", async () => {
    const type = await env.ticketType({ capacity: 60 });
    const tokens = await joinMany(env, type, 60, "ex");
    await env.drain();
    expect(await stockOf(type)).toBe(0);
    for (const token of tokens) await env.backdate(token);
    const racing = await Promise.all([
      expireDueHolds(env.sql, 7),
      expireDueHolds(env.sql, 13),
      env.cleaner().expireNow(),
      env.cleaner().expireNow(),
    ]);
    const raw = racing[0].length + racing[1].length;
    expect(raw + racing[2] + racing[3]).toBe(60);
    expect(await stockOf(type)).toBe(60);
    expect(await env.cleaner().expireNow()).toBe(0);
    expect(await stockOf(type)).toBe(60);
    // The cleaners tidied Redis for what they expired; the rest waits for reconciliation,
    // and status answers from PostgreSQL meanwhile.
    const stale = async () => (await Promise.all(tokens.map((t) => redisStateOf(env, t)))).filter((s) => s !== "expired").length;
    expect(await stale()).toBe(raw);
    expect(await statuses(tokens)).toEqual(tokens.map(() => "expired"));
    await env.cleaner().tick();
    expect(await stale()).toBe(0);
    await env.expectInvariants();
  });

  test("wakes for the next deadline rather than the full interval", async () => {
    const type = await env.ticketType({ capacity: 1 });
    await join(env, "wake", type);
    await env.drain();
    // 20 s, not a few ms: under load the tick came later than that and expired the hold itself (CI)
    await env.sql`UPDATE reservations SET expires_at = now() + interval '20 seconds' WHERE ticket_type_id = ${type}`;
    const cleaner = new (env.cleaner().constructor as any)({ ...env.s, intervalMs: 60_000 });
    const wait = await cleaner.tick();
    // this hold's deadline (or an earlier test's, if sooner), not the 60 s interval
    expect(wait).toBeLessThanOrEqual(20_005);
    await env.sql`UPDATE reservations SET expires_at = now() WHERE ticket_type_id = ${type}`; // due, for the next tick
  });

  test("reconciles Redis with PostgreSQL when a tidy step was lost", async () => {
    const type = await env.ticketType({ capacity: 2 });
    const token = await join(env, "rc", type);
    await env.drain();
    await env.backdate(token);
    // PostgreSQL ends the hold but Redis never hears of it (the process died in between)
    await env.sql`UPDATE reservations SET status = 'expired' WHERE token = ${token}`;
    await env.sql`UPDATE ticket_types SET stock = stock + 1 WHERE id = ${type}`;
    const k = env.s.keys(type);
    expect(await redisStateOf(env, token)).toBe("reserved");
    expect(await env.s.redis.zcard(k.deadlines)).toBe(1);
    await env.cleaner().tick();
    expect(await redisStateOf(env, token)).toBe("expired");
    expect(await env.s.redis.hget(k.users, "rc")).toBeNull();
    expect(await env.s.redis.zcard(k.deadlines)).toBe(0); // nothing of the batch is held any more
    await env.expectInvariants();
  });

  test("reconciles a booking confirmed and cancelled while Redis heard of neither: cancelled, with its reference, never counted", async () => {
    const type = await env.ticketType({ capacity: 2 });
    const token = await join(env, "rcc", type);
    await env.drain();
    // PostgreSQL books the hold and cancels the booking; Redis never hears of either
    const booked = (await bookHold(env.sql, token))!;
    await env.sql`UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = ${booked.id}`;
    await env.sql`UPDATE ticket_types SET stock = stock + 1 WHERE id = ${type}`;
    await env.backdate(token);
    expect(await redisStateOf(env, token)).toBe("reserved");
    await env.cleaner().tick();
    expect(await statusOf(env, token)).toMatchObject({ status: "cancelled", booking_id: booked.id, booking_ref: booked.booking_ref });
    expect(await redisStateOf(env, token)).toBe("cancelled");
    expect(await env.s.redis.hget(env.s.keys(type).bought, "rcc")).toBeNull();
    await env.expectInvariants();
  });
});

describe("stock under concurrent writers", () => {
  // a batch as claim-3.lua hands it over: "<token>\t<user>\t<quantity>\t<place>" per person
  const requests = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => `${`${tag}-${i}`.padEnd(48, "x")}\t${tag}-u${i}\t1\t${i + 1}`).join("\n");
  /** Until a statement like `pattern` waits for a row lock in this test's database. */
  const untilWaitingOnLock = (what: string, pattern: string) =>
    waitFor(what, async () => {
      const [waiting] = await env.sql`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE ${pattern}`;
      return waiting!.n > 0;
    }, 5_000, 10);
  /** A promise, and the function that settles it. */
  const signal = () => {
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    return { fire, fired };
  };

  test("a grant that starts while a refill commits takes exactly the refilled stock", async () => {
    const type = await env.ticketType({ capacity: 50, stock: 0 });
    // a refill holds the row while the grant begins, then commits
    const rowHeld = signal();
    const commit = signal();
    const refill = env.sql.begin(async (sql) => {
      await sql`UPDATE ticket_types SET stock = stock + 50 WHERE id = ${type}`;
      rowHeld.fire();
      await commit.fired;
    });
    await rowHeld.fired;
    const granting = grantHolds(env.sql, type, 1, requests(80, `g${type}`), 60);
    await untilWaitingOnLock("the grant to wait for the refill's lock on the row", "%grant_holds%");
    commit.fire();
    await refill;
    const grant = await granting;
    expect(grant.granted).toBe(50);
    expect(await stockOf(type)).toBe(0);
  });

  test("a refill that starts while a grant holds the row adds to what the grant left", async () => {
    const type = await env.ticketType({ capacity: 100 });
    // 40 holds fall due: what the refill (expiry) gives back; 60 left for the grant
    expect((await grantHolds(env.sql, type, 1, requests(40, `due${type}`), 60)).granted).toBe(40);
    await env.sql`UPDATE reservations SET expires_at = now() - interval '5 seconds' WHERE ticket_type_id = ${type}`;
    // the real grant, in a transaction kept open until the refill waits for its row
    const rowHeld = signal();
    const commit = signal();
    const grant = env.sql.begin(async (tx) => {
      const granted = await grantHolds(tx as unknown as Sql, type, 2, requests(60, `g${type}`), 60);
      rowHeld.fire();
      await commit.fired;
      return granted;
    });
    await rowHeld.fired;
    const refill = expireDueHolds(env.sql, 100);
    await untilWaitingOnLock("the refill to wait for the grant's lock on the row", "%UPDATE ticket_types%");
    commit.fire();
    expect((await grant).granted).toBe(60);
    expect((await refill).filter((e) => e.ticket_type_id === type)).toHaveLength(40);
    expect(await stockOf(type)).toBe(40);
  });
});
