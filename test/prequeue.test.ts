// Sale start and the pre-queue (issue #12): joins long before the start are refused, joins in
// the window before it wait (waiting_for_sale), and at the start everyone waiting gets a place
// in a uniformly random order, exactly once, ahead of everyone who joins afterwards, even with
// several instances racing to open and with an instance killed at the opening.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { freePort } from "../scripts/local-servers";
import { prequeuedKey } from "../src/store/redis";
import { startService, type RunningService } from "../src/server";
import { createTestEnv, exitWithin, join, quietLog, staggered, stays, statusOf, untilClock, waitFor, type TestEnv } from "./helpers";

/** Sets the type's sale start `ms` from now (PostgreSQL's clock); returns it in ms. */
async function startSaleIn(env: TestEnv, ticketTypeId: number, ms: number): Promise<number> {
  const [row] = await env.sql`
    UPDATE ticket_types SET sale_starts_at = now() + ${ms} * interval '1 millisecond'
    WHERE id = ${ticketTypeId} RETURNING sale_starts_at`;
  env.s.catalog.invalidate(); // as the admin API does on the instance that made the change
  return (row!.sale_starts_at as Date).getTime();
}

const joinBody = (user: string, ticketTypeId: number, quantity?: number) => ({ user_id: user, ticket_type_id: ticketTypeId, quantity });

/** The token's record fields that matter here. */
async function recordOf(env: TestEnv, token: string) {
  const { ticketTypeId, id } = env.s.tokens.verify(token)!;
  const [state, place] = await env.s.redis.hmget(env.s.keys(ticketTypeId).record(id), "state", "place");
  return { state, place: place === null ? null : Number(place) };
}

/** Pre-queues `count` users one after another (arrival order is index order); their tokens. */
async function prequeue(env: TestEnv, ticketTypeId: number, count: number, prefix: string): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await env.post("/queue/join", joinBody(`${prefix}${i}`, ticketTypeId));
    expect([res.status, res.body.status]).toEqual([200, "waiting_for_sale"]);
    tokens.push(res.body.queue_token);
  }
  return tokens;
}

/** Runs a processor's rounds until `done` (the opening is looked for every 100 ms). */
async function tickUntil(env: TestEnv, what: string, done: () => Promise<boolean>) {
  const processor = env.processor();
  await waitFor(what, async () => {
    await processor.tick();
    return done();
  });
}

const heldTokens = async (env: TestEnv, ticketTypeId: number) =>
  (await env.sql`SELECT token, queue_place FROM reservations WHERE ticket_type_id = ${ticketTypeId} ORDER BY grant_seq`)
    .map((r) => ({ token: r.token as string, place: Number(r.queue_place) }));

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/**
 * Spearman's rank correlation of two equally long lists of distinct numbers: 1 when the second
 * keeps the first's order, about 0 when it has nothing to do with it.
 */
function spearman(xs: number[], ys: number[]): number {
  const ranks = (v: number[]) => {
    const r = new Array<number>(v.length);
    v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]).forEach(([, i], rank) => (r[i] = rank));
    return r;
  };
  const [rx, ry] = [ranks(xs), ranks(ys)];
  const n = xs.length;
  const d2 = rx.reduce((sum, r, i) => sum + (r - ry[i]!) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/** The fairness check: with n = 300 rho's standard deviation under a fair draw is about 0.058. */
const arrivalPredictsOrder = (arrival: number[], places: number[]) => Math.abs(spearman(arrival, places)) >= 0.2;

describe("before and in the pre-queue window", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PREQUEUE_MINUTES: "1" });
  });
  afterAll(() => env.close());

  test("earlier than PREQUEUE_MINUTES before the start: 409 not_on_sale with the start; GET /events shows it", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const startsAt = new Date(await startSaleIn(env, type, 5 * 60_000)).toISOString();
    const res = await env.post("/queue/join", joinBody("early", type));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: "not_on_sale", sale_starts_at: startsAt });
    expect(res.body.message).toContain("1 minutes before");
    expect(await env.s.redis.hexists(env.s.keys(type).users, "early")).toBe(0);

    const listed = (await env.call("GET", "/events")).body.flatMap((e: any) => e.ticket_types).find((t: any) => t.id === type);
    expect(listed).toMatchObject({ status: "not_on_sale", sale_starts_at: startsAt });
  });

  test("inside the window: waiting_for_sale with the start and no position, in the join answer and in status", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const startsAt = new Date(await startSaleIn(env, type, 30_000)).toISOString();
    const res = await env.post("/queue/join", joinBody("ann", type, 2));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "waiting_for_sale", sale_starts_at: startsAt, ticket_type_id: type, quantity: 2 });
    expect(res.body).not.toHaveProperty("position");
    const status = await statusOf(env, res.body.queue_token);
    expect(status).toMatchObject({ status: "waiting_for_sale", sale_starts_at: startsAt, quantity: 2 });
    expect(status).not.toHaveProperty("position");
    // nothing to confirm yet; the queue itself is empty and nobody is being served
    const confirm = await env.post("/reservation/confirm", { token: res.body.queue_token });
    expect([confirm.status, confirm.body.error]).toEqual([409, "not_reserved"]);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
    expect(await env.s.redis.smembers(prequeuedKey(env.s.activeKey))).toContain(String(type));
  });

  test("the per-user limit, sold out and quantity checks answer as for any join", async () => {
    const type = await env.ticketType({ capacity: 3, per_user_limit: 2 });
    await startSaleIn(env, type, 30_000);
    expect((await env.post("/queue/join", joinBody("a", type, 3))).body.error).toBe("quantity_over_limit");
    await env.s.redis.hset(env.s.keys(type).bought, "b", 2); // b booked two already
    expect((await env.post("/queue/join", joinBody("b", type))).body).toMatchObject({ error: "limit_reached", remaining: 0 });
    const soldOut = await env.ticketType({ capacity: 1, stock: 0 });
    await startSaleIn(env, soldOut, 30_000);
    expect((await env.post("/queue/join", joinBody("c", soldOut))).body.error).toBe("sold_out");
  });

  test("an unverified rejoin is 409 already_queued with status waiting_for_sale and no token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    await startSaleIn(env, type, 30_000);
    await join(env, "bob", type);
    const again = await env.post("/queue/join", joinBody("bob", type));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: "already_queued", status: "waiting_for_sale" });
    expect(again.body).not.toHaveProperty("queue_token");
    expect(await env.s.redis.zcard(env.s.keys(type).prequeue)).toBe(1);
  });

  test("release leaves the pre-queue: nobody places the token at the start; the user may join again", async () => {
    const type = await env.ticketType({ capacity: 10 });
    await startSaleIn(env, type, 30_000);
    const token = await join(env, "cat", type);
    const stays = await join(env, "dan", type);
    const released = await env.post("/reservation/release", { token });
    expect([released.status, released.body.status]).toEqual([200, "released"]);
    expect((await statusOf(env, token)).status).toBe("released");
    expect(await env.s.redis.zcard(env.s.keys(type).prequeue)).toBe(1);
    const rejoined = await join(env, "cat", type);
    expect(rejoined).not.toBe(token);

    await startSaleIn(env, type, 0);
    await tickUntil(env, "the opening", async () => (await env.s.redis.exists(env.s.keys(type).prequeue)) === 0);
    expect(await recordOf(env, token)).toEqual({ state: "released", place: null });
    expect(sorted([(await recordOf(env, stays)).place!, (await recordOf(env, rejoined)).place!])).toEqual([1, 2]);
  });
});

describe("a verified rejoin (JOIN_AUTH=jwt)", () => {
  const SECRET = "prequeue-test-secret-".padEnd(48, "p");
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PREQUEUE_MINUTES: "1", JOIN_AUTH: "jwt", JOIN_JWT_SECRET: SECRET });
  });
  afterAll(() => env.close());

  test("gets the same token back, still waiting_for_sale", async () => {
    const type = await env.ticketType({ capacity: 10 });
    await startSaleIn(env, type, 30_000);
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("eve").setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));
    const joinAs = () => env.call("POST", "/queue/join", { ticket_type_id: type }, { authorization: `Bearer ${jwt}` });
    const first = await joinAs();
    const again = await joinAs();
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ queue_token: first.body.queue_token, status: "waiting_for_sale" });
    expect(again.body).not.toHaveProperty("position");
    expect(await env.s.redis.zcard(env.s.keys(type).prequeue)).toBe(1);
  });
});

describe("at the start", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PREQUEUE_MINUTES: "1" });
  });
  afterAll(() => env.close());

  test("every pre-queued person gets exactly one place, ahead of everyone joining after the start; then all are served", async () => {
    const type = await env.ticketType({ capacity: 100 });
    const startsAt = await startSaleIn(env, type, 1500);
    const early = await prequeue(env, type, 40, "early-");
    expect(Date.now()).toBeLessThan(startsAt); // the test itself kept to the window
    await untilClock(startsAt + 50);
    env.s.catalog.invalidate(); // the catalog now says on_sale (it would within a second anyway)

    const late: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await env.post("/queue/join", joinBody(`late-${i}`, type));
      expect([res.status, res.body.status]).toEqual([200, "queued"]);
      late.push(res.body.queue_token);
    }
    const earlyPlaces = await Promise.all(early.map(async (t) => (await recordOf(env, t)).place!));
    expect(sorted(earlyPlaces)).toEqual(range(1, 40));
    expect(await Promise.all(late.map(async (t) => (await recordOf(env, t)).place))).toEqual(range(41, 50));
    expect(await env.s.redis.exists(env.s.keys(type).prequeue)).toBe(0);
    expect(Number(await env.s.redis.hget(env.s.keys(type).meta, "seq"))).toBe(50);
    const status = await statusOf(env, early[0]!);
    expect(status).toMatchObject({ status: "queued", position: earlyPlaces[0] });

    await tickUntil(env, "50 holds", async () => (await heldTokens(env, type)).length === 50);
    const holds = await heldTokens(env, type);
    expect(holds.map((h) => h.place)).toEqual(range(1, 50)); // served in place order
    expect(new Set(holds.slice(0, 40).map((h) => h.token))).toEqual(new Set(early));
    expect(holds.slice(40).map((h) => h.token)).toEqual(late);
    expect((await statusOf(env, early[0]!)).status).toBe("reserved");
    await env.expectInvariants();
  });

  test("the processor opens a pre-queue nobody joins after, not before its start, and serves it", async () => {
    const type = await env.ticketType({ capacity: 30 });
    const startsAt = await startSaleIn(env, type, 1000);
    const tokens = await prequeue(env, type, 20, "quiet-");
    const processor = env.processor();
    await stays("everyone pre-queued, round after round", async () => {
      await processor.tick();
      return (await env.s.redis.zcard(env.s.keys(type).prequeue)) === 20;
    }, startsAt - 150 - Date.now(), 20);
    expect(await env.s.redis.zcard(env.s.keys(type).prequeue)).toBe(20); // not a moment early
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);

    await tickUntil(env, "20 holds", async () => (await heldTokens(env, type)).length === 20);
    const holds = await heldTokens(env, type);
    expect(holds.map((h) => h.place)).toEqual(range(1, 20));
    expect(new Set(holds.map((h) => h.token))).toEqual(new Set(tokens));
    expect(await env.s.redis.smembers(prequeuedKey(env.s.activeKey))).not.toContain(String(type));
    await env.expectInvariants();
  });

  test("a damaged pre-queued record does not stop the opening; everyone else is placed once", async () => {
    const type = await env.ticketType({ capacity: 30 });
    await startSaleIn(env, type, 30_000);
    const tokens = await prequeue(env, type, 5, "dmg-");
    const k = env.s.keys(type);
    const damaged = env.s.tokens.verify(tokens[2]!)!.id;
    await env.s.redis.del(k.record(damaged));
    await env.s.redis.set(k.record(damaged), "not a hash"); // HMGET on it raises WRONGTYPE
    await startSaleIn(env, type, 0);
    const after = await join(env, "after", type); // join-3.lua opens the pre-queue first
    const places = await Promise.all([...tokens.filter((_, i) => i !== 2), after].map(async (t) => (await recordOf(env, t)).place!));
    expect(sorted(places.slice(0, 4))).toEqual(range(1, 4));
    expect(places[4]).toBe(5);
    expect(await env.s.redis.exists(k.prequeue)).toBe(0);
  });
});

describe("fairness", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PREQUEUE_MINUTES: "1" });
  });
  afterAll(() => env.close());

  /** Pre-queues `n` in arrival order, then starts the sale and lets a processor open it; their places. */
  async function openedPlaces(n: number, tamper?: (prequeueKey: string, tokens: string[]) => Promise<void>): Promise<number[]> {
    const type = await env.ticketType({ capacity: n });
    await startSaleIn(env, type, 60_000);
    const tokens = await prequeue(env, type, n, `fair-${type}-`);
    await tamper?.(env.s.keys(type).prequeue, tokens);
    await startSaleIn(env, type, 0);
    await tickUntil(env, "the opening", async () => (await env.s.redis.exists(env.s.keys(type).prequeue)) === 0);
    return Promise.all(tokens.map(async (t) => (await recordOf(env, t)).place!));
  }

  test("over 300 pre-queued people, arrival order does not predict the order of places", async () => {
    const n = 300;
    const places = await openedPlaces(n);
    expect(sorted(places)).toEqual(range(1, n));
    const arrival = range(1, n);
    const rho = spearman(arrival, places);
    console.log(`pre-queue of ${n}: Spearman rho(arrival, place) = ${rho.toFixed(3)}`);
    expect(arrivalPredictsOrder(arrival, places)).toBe(false);
    // neither does arriving in the first tenth: they land all over the queue
    const firstTenth = places.slice(0, n / 10);
    expect(Math.max(...firstTenth) - Math.min(...firstTenth)).toBeGreaterThan(n / 2);
  }, 30_000);

  test("the check can fail: first come first served (ranks in arrival order) is caught", async () => {
    const arrival = range(1, 300);
    expect(spearman(arrival, arrival)).toBe(1);
    expect(arrivalPredictsOrder(arrival, arrival)).toBe(true);
    // each rank its arrival, the order the joins were answered in (one after another). Not the
    // token ids: UUIDv7 in base64url, whose characters do not sort in time order.
    const places = await openedPlaces(300, async (key, tokens) => {
      const ids = tokens.map((t) => env.s.tokens.verify(t)!.id);
      await env.s.redis.call("ZADD", key, "XX", ...ids.flatMap((id, i) => [String(i + 1), id]));
    });
    expect(arrivalPredictsOrder(arrival, places)).toBe(true);
  }, 30_000);
});

describe("exactly once, with several instances", () => {
  let env: TestEnv;
  let instances: RunningService[] = [];
  beforeAll(async () => {
    env = await createTestEnv({ PORT: "0", PREQUEUE_MINUTES: "1", LOG_LEVEL: "error" });
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await env.close();
  });

  async function http(i: number, body: unknown) {
    const res = await fetch(`http://127.0.0.1:${instances[i % instances.length]!.port}/queue/join`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  test("three instances' joins and processors race to open: each pre-queued token is placed once, ahead of the rest", async () => {
    const pre = 200;
    const racing = 90;
    const type = await env.ticketType({ capacity: pre + racing });
    // the instances first: their start-up (seconds on a loaded machine) must not eat the window
    instances = await Promise.all([0, 1, 2].map(() => startService(env.config, quietLog)));
    const startsAt = await startSaleIn(env, type, 4000);

    const waiting = await Promise.all(range(0, pre - 1).map((i) => http(i, joinBody(`pre-${i}`, type))));
    expect(waiting.every((a) => a.status === 200 && a.body.status === "waiting_for_sale")).toBe(true);
    expect(Date.now()).toBeLessThan(startsAt - 300);
    // joins hammer all three instances from just before the start to just after it
    await untilClock(startsAt - 60);
    // three at a time, one to each instance, 4 ms apart: 0 to ~120 ms after the first
    const answers = (await staggered(racing / 3, 4, (g) =>
      Promise.all([3 * g, 3 * g + 1, 3 * g + 2].map((i) => http(i, joinBody(`racer-${i}`, type)))))).flat();
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const prequeued = [...waiting, ...answers.filter((a) => a.body.status === "waiting_for_sale")].map((a) => a.body.queue_token as string);
    const queued = answers.filter((a) => a.body.status === "queued").map((a) => a.body.queue_token as string);
    expect(queued.length).toBeGreaterThan(0); // some did arrive after the start

    await waitFor("every hold", async () => (await heldTokens(env, type)).length === pre + racing, 30_000);
    const k = env.s.keys(type);
    expect(Number(await env.s.redis.hget(k.meta, "seq"))).toBe(pre + racing); // no place handed out twice
    expect(await env.s.redis.exists(k.prequeue)).toBe(0);
    const holds = await heldTokens(env, type);
    expect(holds.map((h) => h.place)).toEqual(range(1, pre + racing));
    const placeOf = new Map(holds.map((h) => [h.token, h.place]));
    const prequeuedPlaces = prequeued.map((t) => placeOf.get(t)!);
    expect(sorted(prequeuedPlaces)).toEqual(range(1, prequeued.length));
    expect(sorted(queued.map((t) => placeOf.get(t)!))).toEqual(range(prequeued.length + 1, pre + racing));
    await env.expectInvariants();
  }, 60_000);
});

describe("kill -9 at the opening", () => {
  let env: TestEnv;
  const children: Array<ReturnType<typeof Bun.spawn>> = [];
  beforeAll(async () => {
    env = await createTestEnv({ PREQUEUE_MINUTES: "1" });
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await env.close();
  });

  /** A real service process on this test's database and key prefix, set to die at `crashAt`. */
  async function serve(crashAt?: string) {
    const port = freePort();
    const c = env.config;
    const child = Bun.spawn(["bun", "src/main.ts", "serve"], {
      env: {
        ...process.env, PORT: String(port), DATABASE_URL: c.DATABASE_URL, REDIS_URL: c.REDIS_URL,
        REDIS_KEY_PREFIX: c.REDIS_KEY_PREFIX, TOKEN_SECRET: c.TOKEN_SECRET, LOG_LEVEL: "error",
        ...(crashAt ? { TQ_CRASH_AT: crashAt } : {}),
      },
      stdout: "ignore",
      stderr: "ignore",
    });
    children.push(child);
    const answers = () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    // or until it dies: its crash point may come first (a sale already due)
    await waitFor("the service to answer", async () => child.signalCode !== null || child.exitCode !== null || (await answers()), 30_000, 100);
    return child;
  }

  /** Dies by SIGKILL within 20 s. */
  async function diesAtItsCrashPoint(child: ReturnType<typeof Bun.spawn>) {
    await exitWithin(child, 20_000);
    expect(child.signalCode).toBe("SIGKILL");
  }

  test("killed just before and just after the opening: nobody lost, nobody placed twice, all served", async () => {
    const n = 60;
    const type = await env.ticketType({ capacity: n });
    await startSaleIn(env, type, 60_000);
    const tokens = await prequeue(env, type, n, "crash-");
    const k = env.s.keys(type);

    const first = await serve("sale:opening");
    await startSaleIn(env, type, 0);
    await diesAtItsCrashPoint(first);
    expect(await env.s.redis.zcard(k.prequeue)).toBe(n); // died before sending it: nothing moved
    expect(await env.s.redis.llen(k.queue)).toBe(0);

    const second = await serve("sale:opened");
    await diesAtItsCrashPoint(second);
    // died with the pre-queue opened but the type not yet handed to the processors
    expect(await env.s.redis.exists(k.prequeue)).toBe(0);
    expect(await env.s.redis.llen(k.queue)).toBe(n);
    expect(sorted(await Promise.all(tokens.map(async (t) => (await recordOf(env, t)).place!)))).toEqual(range(1, n));
    expect(await env.s.redis.smembers(prequeuedKey(env.s.activeKey))).toContain(String(type));

    const third = await serve();
    await waitFor("every hold", async () => (await heldTokens(env, type)).length === n, 30_000);
    third.kill("SIGTERM");
    await third.exited;
    const holds = await heldTokens(env, type);
    expect(holds.map((h) => h.place)).toEqual(range(1, n));
    expect(new Set(holds.map((h) => h.token))).toEqual(new Set(tokens));
    expect(Number(await env.s.redis.hget(k.meta, "seq"))).toBe(n);
    await env.expectInvariants();
  }, 90_000);
});
