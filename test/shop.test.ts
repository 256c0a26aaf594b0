// The shop API (issue #20): bearer keys, reading a hold, a confirm that is safe to retry (one
// booking and one answer per Idempotency-Key, across instances), hold extension racing the
// cleaner, CONFIRM_BY=shop, prices, currencies, booking references and hold lengths per type.
// Real Redis and PostgreSQL; two real instances where it says so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import { ConfigError, loadEnv } from "../src/config/config";
import { expireDueHolds } from "../src/expiry/expire";
import type { Logger } from "../src/core/log";
import { startService, type RunningService } from "../src/server";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, join, quietLog, redisStateOf, statusOf, waitFor, type TestEnv } from "./helpers";

const KEY = "shop-test-key-".padEnd(40, "k");
const ROTATED_KEY = "shop-next-key-".padEnd(40, "n");
const SHOP_AUTH = { authorization: `Bearer ${KEY}` };
const BOOKING_REF = /^[0-9A-HJKMNP-TV-Z]{10}$/;

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ SHOP_API_KEYS: `${KEY}, ${ROTATED_KEY}`, ADMIN_TOKEN, CURRENCY: "SEK", PORT: "0", LOG_LEVEL: "error" });
});
afterAll(async () => {
  await env?.close();
});

const shop = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  env.call(method, path, body, { ...SHOP_AUTH, ...headers });
const confirm = (token: string, key: string | null, body: unknown = { order_ref: "order-1" }) =>
  shop("POST", `/shop/holds/${encodeURIComponent(token)}/confirm`, body, key === null ? {} : { "idempotency-key": key });
const extend = (token: string, seconds: unknown) => shop("POST", `/shop/holds/${encodeURIComponent(token)}/extend`, { seconds });

/** A live hold of `quantity` tickets (price 50 each) for a new user of a new type. */
async function holdFor(user: string, quantity = 2, capacity = 10): Promise<{ token: string; type: number }> {
  const type = await env.ticketType({ capacity });
  const token = await join(env, user, type, quantity);
  await env.drain();
  expect((await statusOf(env, token)).status).toBe("reserved");
  return { token, type };
}

const bookingsOf = async (token: string) => env.sql`SELECT * FROM bookings WHERE token = ${token}`;

describe("keys", () => {
  test("no key or a wrong one: 401 with WWW-Authenticate; either key while rotating passes", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong" }, { authorization: `Bearer ${KEY}x` }, { authorization: KEY }]) {
      const res = await env.call("GET", "/shop/holds/whatever", undefined, headers);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe("unauthorized");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="shop"');
    }
    for (const key of [KEY, ROTATED_KEY]) {
      const res = await env.call("GET", "/shop/holds/forged", undefined, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("unknown_token");
    }
  });

  test("without SHOP_API_KEYS every shop route is 403 shop_disabled", async () => {
    const app = createApp({ ...env.s, config: { ...env.config, SHOP_API_KEYS: undefined } });
    for (const [method, path] of [["GET", "/shop/holds/x"], ["POST", "/shop/holds/x/confirm"], ["POST", "/shop/bookings/1/cancel"]] as const) {
      const res = await app.handle(new Request(`http://test${path}`, { method, headers: SHOP_AUTH }));
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error).toBe("shop_disabled");
    }
  });

  test("SHOP_API_KEYS: each key at least 32 characters; the refusal does not repeat them", () => {
    expect(loadEnv({ SHOP_API_KEYS: `${KEY},${ROTATED_KEY}` }).SHOP_API_KEYS).toBe(`${KEY},${ROTATED_KEY}`);
    for (const bad of [`${KEY},short-key`, " , ", "short"]) {
      expect(() => loadEnv({ SHOP_API_KEYS: bad })).toThrow(ConfigError);
      try {
        loadEnv({ SHOP_API_KEYS: bad });
      } catch (err) {
        expect((err as Error).message).not.toContain(KEY);
        expect((err as Error).message).not.toContain("short-key");
      }
    }
  });

  test("keys never reach the logs, whatever the request", async () => {
    const lines: string[] = [];
    const capture = (level: string) => (message: string, fields: object = {}) => void lines.push(JSON.stringify({ level, message, ...fields }));
    const log: Logger = { debug: capture("debug"), info: capture("info"), warn: capture("warn"), error: capture("error") };
    const app = createApp({ ...env.s, log, config: { ...env.config, LOG_LEVEL: "debug" } });
    const { token } = await holdFor("logged");
    const send = (path: string, key: string, body?: unknown, headers: Record<string, string> = {}) =>
      app.handle(new Request(`http://test${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }));
    expect((await send(`/shop/holds/${token}`, `${KEY}-wrong`)).status).toBe(401);
    expect((await send(`/shop/holds/${token}`, KEY)).status).toBe(200);
    expect((await send(`/shop/holds/${token}/confirm`, ROTATED_KEY, { order_ref: "o" }, { "idempotency-key": "log-1" })).status).toBe(201);
    expect((await send(`/shop/holds/${token}/confirm`, KEY, "{bad json" as unknown)).status).toBe(400);
    expect(lines.length).toBeGreaterThan(0); // the booking was logged, and the requests at debug
    for (const line of lines) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(ROTATED_KEY);
      expect(line).not.toContain(token);
    }
  });
});

describe("GET /shop/holds/:token", () => {
  test("a hold: who, what, how much, until when; then its booking", async () => {
    const { token, type } = await holdFor("reader", 3);
    const res = await shop("GET", `/shop/holds/${token}`);
    expect(res.status).toBe(200);
    const [{ event_id, expires_at }] = await env.sql`
      SELECT t.event_id, r.expires_at FROM reservations r JOIN ticket_types t ON t.id = r.ticket_type_id WHERE r.token = ${token}`;
    expect(res.body).toEqual({
      queue_token: token, status: "reserved", user_id: "reader", event_id, event_name: "Test event", ticket_type_id: type,
      ticket_type_name: "Floor", quantity: 3, unit_price: 50, amount: 150, currency: "EUR", expires_at: expires_at.toISOString(),
      extended_seconds: 0,
    });
    const booked = await confirm(token, "reader-1");
    const after = await shop("GET", `/shop/holds/${token}`);
    expect(after.body).toMatchObject({ status: "confirmed", booking_id: booked.body.booking_id, booking_ref: booked.body.booking_ref });
  });

  test("a forged token is 404 unknown_token; one still queued is 404 no_hold", async () => {
    const { token, type } = await holdFor("first-in-line", 4, 4);
    const forged = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
    expect((await shop("GET", `/shop/holds/${forged}`)).body.error).toBe("unknown_token");
    const queued = await join(env, "behind", type, 1); // no stock left, a hold outstanding: waits
    const res = await shop("GET", `/shop/holds/${queued}`);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("no_hold");
  });
});

describe("POST /shop/holds/:token/confirm", () => {
  test("books with the order's reference, the price and the event's currency; Redis follows", async () => {
    const { token, type } = await holdFor("payer", 2);
    const res = await confirm(token, "payer-key", { order_ref: "ORD-77", amount: 100 });
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    const [booking] = await bookingsOf(token);
    expect(res.body).toEqual({
      booking_id: Number(booking!.id), booking_ref: booking!.booking_ref, order_ref: "ORD-77", queue_token: token, ticket_type_id: type,
      quantity: 2, amount: 100, currency: "EUR", confirmed_at: booking!.created_at.toISOString(),
    });
    expect(res.body.booking_ref).toMatch(BOOKING_REF);
    expect(booking!.amount).toBe("100.00");
    expect(booking!.status).toBe("confirmed");
    expect(await redisStateOf(env, token)).toBe("confirmed");
    expect(await env.s.redis.hget(env.s.keys(type).bought, "payer")).toBe("2");
    await env.expectInvariants();
  });

  test("the same key and body again: the same answer, replayed; another body: 422; another key: 409 already_confirmed", async () => {
    const { token } = await holdFor("retrier");
    const first = await confirm(token, "retry-key", { order_ref: "R-1" });
    const again = await confirm(token, "retry-key", { order_ref: "R-1" });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const reused = await confirm(token, "retry-key", { order_ref: "R-2" });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toBe("idempotency_key_reused");
    const other = await confirm(token, "another-key", { order_ref: "R-1" });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: "already_confirmed", booking_id: first.body.booking_id });
    expect(await bookingsOf(token)).toHaveLength(1);
  });

  test("an amount that is not unit_price x quantity: 409 amount_mismatch, nothing booked", async () => {
    const { token } = await holdFor("short-payer", 2);
    for (const amount of [99.99, 0, 50]) {
      const res = await confirm(token, `mismatch-${amount}`, { order_ref: "M", amount });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe("amount_mismatch");
    }
    expect(await bookingsOf(token)).toHaveLength(0);
    expect((await shop("GET", `/shop/holds/${token}`)).body.status).toBe("reserved");
    // the key was not used up by the refusal: it books once the amount is right
    expect((await confirm(token, "mismatch-0", { order_ref: "M", amount: 100 })).status).toBe(201);
  });

  test("Idempotency-Key missing or too long, or a bad body: 400 and nothing booked", async () => {
    const { token } = await holdFor("careless");
    expect((await confirm(token, null)).body.error).toBe("idempotency_key_required");
    expect((await confirm(token, "k".repeat(256))).status).toBe(400);
    // a NUL (which PostgreSQL's text cannot hold) or another control character: refused, never a 500
    const controls = [{ order_ref: "a\u0000" }, { order_ref: "a\nb" }, { order_ref: "\u001b[31m" }];
    for (const body of [{}, { order_ref: "" }, { order_ref: "x".repeat(129) }, { order_ref: "o", amount: -1 }, { order_ref: "o", extra: 1 }, ...controls]) {
      const res = await confirm(token, "bad-body", body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_input");
    }
    expect(await bookingsOf(token)).toHaveLength(0);
  });

  test("past the deadline: 410 hold_expired; released: 409 released", async () => {
    const late = await holdFor("late");
    await env.backdate(late.token);
    const res = await confirm(late.token, "late-key");
    expect(res.status).toBe(410);
    expect(res.body.error).toBe("hold_expired");
    const given = await holdFor("giver");
    expect((await env.post("/reservation/release", { token: given.token })).status).toBe(200);
    expect((await confirm(given.token, "giver-key")).body.error).toBe("released");
    expect(await bookingsOf(late.token)).toHaveLength(0);
  });

  test("50 concurrent confirms with one key: one booking, 50 identical answers, all but one replayed", async () => {
    const { token } = await holdFor("crowd-one-key");
    const answers = await Promise.all(Array.from({ length: 50 }, () => confirm(token, "one-key", { order_ref: "C-1", amount: 100 })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    for (const a of answers) expect(a.body).toEqual(answers[0]!.body);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(49);
    expect(await bookingsOf(token)).toHaveLength(1);
    await env.expectInvariants();
  });

  test("50 concurrent confirms with 50 keys: one booking, the others 409 already_confirmed naming it", async () => {
    const { token } = await holdFor("crowd-many-keys");
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => confirm(token, `key-${i}`, { order_ref: `C-${i}` })));
    const booked = answers.filter((a) => a.status === 201);
    expect(booked).toHaveLength(1);
    for (const a of answers.filter((a) => a.status !== 201)) {
      expect(a.status).toBe(409);
      expect(a.body).toMatchObject({ error: "already_confirmed", booking_id: booked[0]!.body.booking_id });
    }
    expect(await bookingsOf(token)).toHaveLength(1);
  });

  test("the buyer's confirm books with the price and currency too", async () => {
    const { token } = await holdFor("buyer", 3);
    const res = await env.post("/reservation/confirm", { token });
    expect(res.status).toBe(200);
    expect(res.body.booking_ref).toMatch(BOOKING_REF);
    expect([res.body.amount, res.body.currency]).toEqual([150, "EUR"]);
    const [booking] = await bookingsOf(token);
    expect([booking!.amount, booking!.currency, booking!.order_ref, booking!.booking_ref]).toEqual(["150.00", "EUR", null, res.body.booking_ref]);
    expect((await env.post("/reservation/confirm", { token })).body).toEqual(res.body); // a repeat: the same answer
  });

  test("CONFIRM_BY=shop: the buyer's confirm is 403 confirm_by_shop and nothing changes; the shop books", async () => {
    const app = createApp({ ...env.s, config: { ...env.config, CONFIRM_BY: "shop" } });
    const { token } = await holdFor("shop-mode");
    const res = await app.handle(new Request("http://test/reservation/confirm", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }),
    }));
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toBe("confirm_by_shop");
    expect(await bookingsOf(token)).toHaveLength(0);
    expect((await statusOf(env, token)).status).toBe("reserved");
    expect((await confirm(token, "shop-mode-key")).status).toBe(201);
  });
});

test("the cleaner deletes Idempotency-Keys older than 48 hours, keeps younger ones", async () => {
  await env.sql`
    INSERT INTO idempotency_keys (key, request_hash, response_status, response_body, created_at)
    VALUES ('old-key', 'h', 201, '{}', now() - interval '49 hours'), ('day-old-key', 'h', 201, '{}', now() - interval '25 hours')`;
  await env.cleaner().tick();
  const kept = await env.sql`SELECT key FROM idempotency_keys WHERE key IN ('old-key', 'day-old-key')`;
  expect(kept.map((r) => r.key)).toEqual(["day-old-key"]);
});

describe("two instances", () => {
  let instances: RunningService[];
  beforeAll(async () => {
    instances = await Promise.all([startService(env.config, quietLog), startService(env.config, quietLog)]);
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).map((i) => i.stop()));
  });
  const http = async (i: number, token: string, key: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${instances[i]!.port}/shop/holds/${token}/confirm`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key, ...SHOP_AUTH },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any, replayed: res.headers.get("idempotent-replayed") };
  };

  test("one key from both: one booking, identical answers; 50 keys from both: one booking, the rest already_confirmed", async () => {
    const same = await holdFor("two-instances-one-key");
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => http(i % 2, same.token, "shared-key", { order_ref: "X" })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    for (const a of answers) expect(a.body).toEqual(answers[0]!.body);
    expect(answers.filter((a) => a.replayed === "true")).toHaveLength(49);
    expect(await bookingsOf(same.token)).toHaveLength(1);

    const many = await holdFor("two-instances-many-keys");
    const racing = await Promise.all(Array.from({ length: 50 }, (_, i) => http(i % 2, many.token, `inst-key-${i}`, { order_ref: `Y${i}` })));
    expect(racing.filter((a) => a.status === 201)).toHaveLength(1);
    expect(racing.filter((a) => a.status === 409 && a.body.error === "already_confirmed")).toHaveLength(49);
    expect(await bookingsOf(many.token)).toHaveLength(1);
    await env.expectInvariants();
  });
});

describe("POST /shop/holds/:token/extend", () => {
  test("moves the deadline on, in PostgreSQL and Redis; at most HOLD_EXTEND_MAX_SECONDS in all", async () => {
    const { token, type } = await holdFor("slow-bank");
    const [{ expires_at: before }] = await env.sql`SELECT expires_at FROM reservations WHERE token = ${token}`;
    const res = await extend(token, 500);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ queue_token: token, expires_at: new Date(before.getTime() + 500_000).toISOString(), extended_seconds: 500 });
    const { id } = env.s.tokens.verify(token)!;
    const k = env.s.keys(type);
    expect(Number(await env.s.redis.hget(k.record(id), "expires_at"))).toBe(before.getTime() + 500_000);
    const batch = (await env.s.redis.hget(k.record(id), "batch"))!;
    expect(Number(await env.s.redis.zscore(k.deadlines, batch))).toBeGreaterThanOrEqual(before.getTime() + 500_000);
    expect((await statusOf(env, token)).expires_at).toBe(res.body.expires_at);

    const over = await extend(token, 101);
    expect(over.status).toBe(409);
    expect(over.body.error).toBe("extend_limit");
    expect((await extend(token, 100)).body.extended_seconds).toBe(600);
    expect((await extend(token, 1)).body.error).toBe("extend_limit");
    for (const seconds of [0, 601, 1.5, "10"]) expect((await extend(token, seconds)).status).toBe(400);
    const [{ expires_at: after }] = await env.sql`SELECT expires_at FROM reservations WHERE token = ${token}`;
    expect(after.getTime()).toBe(before.getTime() + 600_000);
  });

  test("past the deadline: 410 hold_expired, and the cleaner's expiry stands", async () => {
    const { token, type } = await holdFor("too-late", 2);
    await env.backdate(token);
    const res = await extend(token, 60);
    expect(res.status).toBe(410);
    expect(res.body.error).toBe("hold_expired");
    expect(await expireDueHolds(env.sql, 10)).toHaveLength(1);
    expect(await env.stockOf(type)).toBe(10);
    expect((await extend(token, 60)).status).toBe(410);
  });

  test("extend against the cleaner at the deadline, 200 rounds: extended and never expired, or 410 and expired once", async () => {
    const type = await env.ticketType({ capacity: 200 });
    const tokens: string[] = [];
    for (let i = 0; i < 200; i++) tokens.push(await join(env, `racer-${i}`, type, 1));
    await env.drain();
    const outcomes = { extended: 0, expired: 0 };
    for (const [round, token] of tokens.entries()) {
      // the deadline 0 to 24 ms ahead: about when both requests arrive (sooner or later as the
      // machine is loaded), so they meet at it
      const ms = round % 25;
      await env.sql`UPDATE reservations SET expires_at = clock_timestamp() + make_interval(secs => ${ms / 1000}) WHERE token = ${token}`;
      const [extended, expired] = await Promise.all([extend(token, 30), expireDueHolds(env.sql, 10)]);
      const cleanedLater = await expireDueHolds(env.sql, 10); // a hold extend found lapsed, the cleaner took after
      const [{ status }] = await env.sql`SELECT status FROM reservations WHERE token = ${token}`;
      const expiredHere = [...expired, ...cleanedLater].filter((e) => e.token === token).length;
      if (extended.status === 200) {
        expect(expiredHere).toBe(0);
        expect(status).toBe("held");
        outcomes.extended++;
      } else {
        expect(extended.status).toBe(410);
        expect(expiredHere).toBe(1);
        expect(status).toBe("expired");
        outcomes.expired++;
      }
    }
    expect(outcomes.extended + outcomes.expired).toBe(200);
    // both endings happen (the deadline is met from either side), never both at once
    expect(outcomes.extended).toBeGreaterThan(0);
    expect(outcomes.expired).toBeGreaterThan(0);
    const [{ held }] = await env.sql`SELECT count(*)::int AS held FROM reservations WHERE ticket_type_id = ${type} AND status = 'held'`;
    expect(held).toBe(outcomes.extended);
    expect(await env.stockOf(type)).toBe(outcomes.expired);
    await env.expectInvariants();
  }, 120_000);
});

describe("the buyer's release while the shop takes the payment", () => {
  const shopMode = () => createApp({ ...env.s, config: { ...env.config, CONFIRM_BY: "shop" } });
  const releaseIn = async (app: ReturnType<typeof createApp>, token: string) => {
    const res = await app.handle(new Request("http://test/reservation/release", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }),
    }));
    return { status: res.status, body: (await res.json()) as any };
  };
  const holdRow = async (token: string) =>
    (await env.sql`SELECT status, extended_seconds, expires_at FROM reservations WHERE token = ${token}`)[0]!;

  test("before the shop extends, the buyer may release; once it did: 409 payment_in_progress and nothing changes, until the deadline", async () => {
    const app = shopMode();
    const early = await holdFor("changes-mind", 2);
    expect((await releaseIn(app, early.token)).status).toBe(200);
    expect(await env.stockOf(early.type)).toBe(10);

    const { token, type } = await holdFor("paying", 2);
    expect((await extend(token, 60)).status).toBe(200);
    const before = await holdRow(token);
    const refused = await releaseIn(app, token);
    expect(refused).toEqual({
      status: 409, body: { error: "payment_in_progress", message: expect.stringContaining("taking the payment"), request_id: expect.any(String) },
    });
    expect(await holdRow(token)).toEqual(before);
    expect(await env.stockOf(type)).toBe(8);
    expect(await statusOf(env, token)).toMatchObject({ status: "reserved", expires_at: before.expires_at.toISOString() });
    expect((await confirm(token, "paid-1001", { order_ref: "ORD-1001", amount: 100 })).status).toBe(201);

    // a payment that never completes: the deadline still stands
    const lapsing = await holdFor("abandoned", 1);
    expect((await extend(lapsing.token, 30)).status).toBe(200);
    expect((await releaseIn(app, lapsing.token)).body.error).toBe("payment_in_progress");
    await env.backdate(lapsing.token);
    expect((await expireDueHolds(env.sql, 10)).map((e) => e.token)).toContain(lapsing.token);
    expect(await env.stockOf(lapsing.type)).toBe(10);
    expect((await releaseIn(app, lapsing.token)).body.error).toBe("hold_expired");
    await env.expectInvariants();
  });

  test("release against extend on one row, 60 rounds with both waiting on its lock: exactly one wins, never both", async () => {
    const type = await env.ticketType({ capacity: 60 });
    const tokens: string[] = [];
    for (let i = 0; i < 60; i++) tokens.push(await join(env, `paying-${i}`, type, 1));
    await env.drain();
    const app = shopMode();
    const waiting = async () => (await env.sql`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)[0]!.n;
    const won = { release: 0, extend: 0 };
    for (const [round, token] of tokens.entries()) {
      let both!: Promise<[{ status: number; body: any }, { status: number; body: any }]>;
      // the row locked while both are sent, so both wait for it and then re-read it, in either order
      await env.sql.begin(async (tx) => {
        await tx`SELECT 1 FROM reservations WHERE token = ${token} FOR UPDATE`;
        both = round % 2
          ? Promise.all([releaseIn(app, token), extend(token, 30)])
          : Promise.all([extend(token, 30), releaseIn(app, token)]).then(([e, r]) => [r, e]);
        await waitFor("release and extend to wait for the row", async () => (await waiting()) >= 2, 5000, 2);
      });
      const [released, extended] = await both;
      const row = await holdRow(token);
      if (released.status === 200) {
        expect([extended.status, extended.body.error]).toEqual([409, "released"]);
        expect([row.status, row.extended_seconds]).toEqual(["released", 0]);
        won.release++;
      } else {
        expect([released.status, released.body.error]).toEqual([409, "payment_in_progress"]);
        expect(extended.status).toBe(200);
        expect([row.status, row.extended_seconds]).toEqual(["held", 30]);
        won.extend++;
      }
    }
    expect(won.release + won.extend).toBe(60);
    // both endings happen (whichever request takes the lock first), never both at once
    expect(won.release).toBeGreaterThan(0);
    expect(won.extend).toBeGreaterThan(0);
    expect(await env.stockOf(type)).toBe(won.release);
    await env.expectInvariants();
  }, 120_000);
});

describe("prices, currencies and hold lengths", () => {
  const admin = (method: string, path: string, body?: unknown) => env.call(method, path, body, ADMIN_AUTH);

  test("an event's currency: given, or CURRENCY; patched; shown in /events; checked", async () => {
    const given = await admin("POST", "/admin/events", { name: "Priced", currency: "USD" });
    expect(given.body.currency).toBe("USD");
    const fallback = await admin("POST", "/admin/events", { name: "Default" });
    expect(fallback.body.currency).toBe("SEK");
    expect((await admin("PATCH", `/admin/events/${fallback.body.id}`, { currency: "GBP" })).body.currency).toBe("GBP");
    for (const currency of ["usd", "EURO", "", 12]) {
      expect((await admin("POST", "/admin/events", { name: "Bad", currency })).status).toBe(400);
    }
    env.s.catalog.invalidate();
    const listed = (await env.call("GET", "/events")).body as any[];
    expect(listed.find((e) => e.id === given.body.id)?.currency).toBe("USD");
    expect(listed.find((e) => e.id === fallback.body.id)?.currency).toBe("GBP");
  });

  test("hold_seconds per ticket type: the grant holds that long; null: RESERVATION_TTL_SECONDS", async () => {
    const event = await admin("POST", "/admin/events", { name: "Long checkout" });
    const created = await admin("POST", `/admin/events/${event.body.id}/ticket-types`, { name: "Paid", price: 20, capacity: 10, hold_seconds: 900 });
    expect(created.body.hold_seconds).toBe(900);
    const deadline = async (user: string) => {
      const token = await join(env, user, created.body.id, 1);
      await env.drain();
      const [row] = await env.sql`SELECT extract(epoch FROM expires_at - created_at)::float8 AS seconds FROM reservations WHERE token = ${token}`;
      return Math.round(row!.seconds);
    };
    expect(await deadline("long-1")).toBe(900);
    expect((await admin("PATCH", `/admin/ticket-types/${created.body.id}`, { hold_seconds: null })).body.hold_seconds).toBeNull();
    expect(await deadline("long-2")).toBe(env.config.RESERVATION_TTL_SECONDS);
    expect((await admin("PATCH", `/admin/ticket-types/${created.body.id}`, { hold_seconds: 0 })).status).toBe(400);
  });
});
