// Races for real: many concurrent HTTP requests against two running instances, each with its
// own processor and cleaner Worker, all on one Redis and one PostgreSQL. Invariants checked in
// SQL at the end of every test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startService, type RunningService } from "../src/server";
import { createTestEnv, every, quietLog, staggered, untilClock, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
let instances: RunningService[] = [];

beforeAll(async () => {
  // Holds last 2 s here so that expiry happens within a test; the cleaner wakes every 50 ms.
  env = await createTestEnv({ PORT: "0", RESERVATION_TTL_SECONDS: "2", CLEANER_INTERVAL_MS: "50" });
  instances = await Promise.all([startService(env.config, quietLog), startService(env.config, quietLog)]);
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await env.close();
});

/** Sends request i to instance i % 2, so both instances serve every test. */
async function http(i: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${instances[i % instances.length]!.port}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const joinOver = (i: number, user: string, ticketTypeId: number) =>
  http(i, "POST", "/queue/join", { user_id: user, ticket_type_id: ticketTypeId });
const statusOver = (i: number, token: string) => http(i, "GET", `/reservation/status?token=${token}`);

const heldCount = async (type: number) =>
  (await env.sql`SELECT count(*)::int AS n FROM reservations WHERE ticket_type_id = ${type} AND status = 'held'`)[0]!.n;

describe("races", () => {
  test("confirm and release sent while the hold is being granted never call a live hold expired", async () => {
    const type = await env.ticketType({ capacity: 200 });
    // one pair at a time, so each grant is of one person and lands inside the 0-5 ms window
    const firstAnswers: { status: number; body: any }[] = [];
    for (let i = 0; i < 80; i++) firstAnswers.push(await pair(i));
    async function pair(i: number) {
      const token = (await joinOver(i, `racing-${i}`, type)).body.queue_token;
      await Bun.sleep(i % 6); // 0-5 ms after the join: inside the processor's serving window
      const path = i % 2 === 0 ? "/reservation/confirm" : "/reservation/release";
      let res = await http(i + 1, "POST", path, { token });
      const first = res;
      // "not yet" answers are retried, as a client would; they must end in the outcome asked for
      const notYet = (a: typeof res) => a.status === 409 && ["in_progress", "not_reserved"].includes(a.body.error);
      if (notYet(res)) await waitFor(`${path} past "not yet"`, async () => !notYet((res = await http(i, "POST", path, { token }))), 2000, 10);
      expect(res.status).toBe(200);
      return first;
    }
    expect(firstAnswers.filter((a) => a.status === 410)).toEqual([]);
    expect(firstAnswers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    await env.expectInvariants();
  }, 60_000);

  test("1,000 concurrent joins for 100 tickets give exactly 100 holds, in join order", async () => {
    const type = await env.ticketType({ capacity: 100 });
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => joinOver(i, `crowd-${i}`, type)),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.queue_token)).size).toBe(1000);
    // every joiner got a place of their own (positions shift as the processor serves meanwhile)
    const places = await Promise.all(answers.map((a) => {
      const { id } = env.s.tokens.verify(a.body.queue_token)!;
      return env.s.redis.hget(env.s.keys(type).record(id), "place");
    }));
    expect(new Set(places).size).toBe(1000);

    await waitFor("100 holds", async () => (await heldCount(type)) === 100);
    const holds = await env.sql`
      SELECT queue_place FROM reservations WHERE ticket_type_id = ${type} ORDER BY grant_seq`;
    // the first hundred places, granted in join order
    expect(holds.map((h) => Number(h.queue_place))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // everyone else keeps their place: the holds may still lapse
    const late = answers[places.indexOf("1000")]!;
    expect((await statusOver(0, late.body.queue_token)).body).toMatchObject({ status: "queued", position: 900 });
    expect((await env.sql`SELECT stock FROM ticket_types WHERE id = ${type}`)[0]!.stock).toBe(0);
    await env.expectInvariants();
  });

  test("the same user joining 50 times at once gets one place; the other 49 are told already_queued", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => joinOver(i, "eager", type)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.every((a) => a.status === 409 && a.body.error === "already_queued" && !("queue_token" in a.body))).toBe(true);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBeLessThanOrEqual(1); // one place (0 once served)
    expect(await env.s.redis.hget(env.s.keys(type).meta, "seq")).toBe("1");
    await waitFor("the hold", async () => (await heldCount(type)) === 1);
    await env.expectInvariants();
  });

  test("200 concurrent confirms of one token give one booking", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const token = (await joinOver(0, "confirmer", type)).body.queue_token;
    await waitFor("the hold", async () => (await statusOver(1, token)).body.status === "reserved");
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => http(i, "POST", "/reservation/confirm", { token })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.booking_id)).size).toBe(1);
    const bookings = await env.sql`SELECT count(*)::int AS n FROM bookings WHERE token = ${token}`;
    expect(bookings[0]!.n).toBe(1);
    await env.expectInvariants();
  });

  test("a confirm racing the expiry of its hold has exactly one outcome", async () => {
    const type = await env.ticketType({ capacity: 40 });
    const tokens: string[] = [];
    for (let i = 0; i < 40; i++) tokens.push((await joinOver(i, `racer-${i}`, type)).body.queue_token);
    await waitFor("40 holds", async () => (await heldCount(type)) === 40);
    // every deadline lands in the same instant; confirms arrive from 150 ms before to 150 ms after
    const deadline = Date.now() + 400;
    await env.sql`UPDATE reservations SET expires_at = ${new Date(deadline)} WHERE ticket_type_id = ${type}`;
    await untilClock(deadline - 150);
    const answers = await staggered(tokens.length, 300 / tokens.length, (i) => http(i, "POST", "/reservation/confirm", { token: tokens[i]! }));
    await waitFor("every hold to end", async () => (await heldCount(type)) === 0);

    const rows = await env.sql`
      SELECT r.token, r.status, b.id AS booking_id FROM reservations r
      LEFT JOIN bookings b ON b.token = r.token WHERE r.ticket_type_id = ${type}`;
    const byToken = new Map(rows.map((r) => [r.token, r]));
    let confirmed = 0;
    tokens.forEach((token, i) => {
      const row = byToken.get(token)!;
      if (answers[i]!.status === 200) {
        confirmed++;
        expect(row.status).toBe("confirmed");
        expect(row.booking_id).toBe(answers[i]!.body.booking_id);
      } else {
        expect(answers[i]!.status).toBe(410);
        expect(row.status).toBe("expired");
        expect(row.booking_id).toBeNull();
      }
    });
    // both outcomes happened, so the race was real
    expect(confirmed).toBeGreaterThan(0);
    expect(confirmed).toBeLessThan(40);
    const [t] = await env.sql`SELECT stock FROM ticket_types WHERE id = ${type}`;
    expect(t!.stock).toBe(40 - confirmed);
    await env.expectInvariants();
  });
});

describe("per_user_limit under a crowd, two instances, and a Redis that forgets the tally", () => {
  test("nobody books more than the limit, and everyone books up to it", async () => {
    const type = await env.ticketType({ capacity: 500, per_user_limit: 3 });
    const bought = env.s.keys(type).bought;
    // Redis keeps losing what users booked: PostgreSQL alone has to enforce the limit.
    const forget = every(5, () => env.s.redis.del(bought));
    const buyer = async (u: number) => {
      // holds last 2 s: under load a confirm can come late, and that hold's attempt starts again
      for (let attempt = 0; attempt < 12; attempt++) {
        const joined = await http(u + attempt, "POST", "/queue/join", { user_id: `limit-${u}`, ticket_type_id: type, quantity: 1 });
        if (joined.status === 409 && joined.body.error === "limit_reached") return;
        expect(joined.status).toBe(200);
        const token = joined.body.queue_token;
        let status = "queued";
        await waitFor("a place served", async () => (status = (await statusOver(u + attempt + 1, token)).body.status) !== "queued", 50_000, 10);
        if (status === "limit_reached") return;
        expect(status).toBe("reserved");
        const confirmed = await http(u, "POST", "/reservation/confirm", { token });
        if (confirmed.status !== 200) expect(confirmed.body.error).toBe("hold_expired");
      }
    };
    try {
      await Promise.all(Array.from({ length: 20 }, (_, u) => buyer(u)));
    } finally {
      await forget.stop(); // a failed buyer must not leave it calling a closed Redis
    }
    const rows = await env.sql`
      SELECT user_id, sum(quantity)::int AS n FROM bookings WHERE ticket_type_id = ${type} GROUP BY user_id`;
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.n === 3)).toBe(true);
    await env.expectInvariants();
  }, 60_000);
});

describe("two processors and two cleaners at once", () => {
  test("a crowd that confirms, releases and abandons keeps every invariant", async () => {
    const type = await env.ticketType({ capacity: 30, per_user_limit: 3 });
    const outcomes = { confirmed: 0, released: 0, abandoned: 0 };
    // Each buyer follows the sale to its end for them: a hold, or sold out.
    const buyer = async (i: number) => {
      const quantity = 1 + (i % 3);
      const joined = await http(i, "POST", "/queue/join", { user_id: `b${i}`, ticket_type_id: type, quantity });
      if (joined.status !== 200) return; // 409: sold out before they arrived
      const token = joined.body.queue_token;
      let poll = 0;
      let status = "queued";
      await waitFor("a place served", async () => (status = (await statusOver(i + poll++, token)).body.status) !== "queued", 50_000, 25);
      if (status !== "reserved") return;
      const choice = i % 3;
      if (choice === 0) {
        if ((await http(i + 1, "POST", "/reservation/confirm", { token })).status === 200) outcomes.confirmed++;
      } else if (choice === 1) {
        if ((await http(i + 1, "POST", "/reservation/release", { token })).status === 200) outcomes.released++;
      } else {
        outcomes.abandoned++; // walks away: the hold lapses and the stock comes back
      }
    };
    await staggered(150, 10, buyer);
    await waitFor("every hold to end", async () => (await heldCount(type)) === 0, 10_000);

    expect(outcomes.confirmed).toBeGreaterThan(0);
    expect(outcomes.released).toBeGreaterThan(0);
    expect(outcomes.abandoned).toBeGreaterThan(0);
    const [sums] = await env.sql`
      SELECT count(*) FILTER (WHERE status = 'expired')::int AS expired,
             count(*) FILTER (WHERE status = 'released')::int AS released
      FROM reservations WHERE ticket_type_id = ${type}`;
    expect(sums!.expired).toBeGreaterThan(0);
    expect(sums!.released).toBe(outcomes.released);
    await env.expectInvariants();
  }, 120_000);

  test("holds that lapse are refilled and the next people in line are served", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const tokens: string[] = [];
    for (let i = 0; i < 30; i++) tokens.push((await joinOver(i, `lapse-${i}`, type)).body.queue_token);
    // nobody confirms: three waves of ten holds, each lapsing after 2 s
    await waitFor(
      "all 30 served in turn",
      async () => (await env.sql`SELECT count(*)::int AS n FROM reservations WHERE ticket_type_id = ${type}`)[0]!.n === 30,
      30_000,
    );
    const order = await env.sql`SELECT queue_place FROM reservations WHERE ticket_type_id = ${type} ORDER BY grant_seq`;
    expect(order.map((r) => Number(r.queue_place))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await waitFor("the last wave to lapse", async () => (await heldCount(type)) === 0, 10_000);
    expect((await env.sql`SELECT stock FROM ticket_types WHERE id = ${type}`)[0]!.stock).toBe(10);
    await env.expectInvariants();
  }, 60_000);
});
