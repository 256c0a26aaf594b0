// Cancelling a booking (issue #20): the shop's and the operator's cancel, concurrently from two
// real instances (each with its processor and cleaner): the tickets go back on sale once, the
// next person waiting is served them, the person may book again (PostgreSQL's limit and Redis's
// tally both go down), and I1-I5 hold with capacity = stock + held + confirmed (not cancelled).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startService, type RunningService } from "../src/server";
import { STATUS_MESSAGES } from "../src/domain/states";
import { tokenIdOf } from "../src/domain/tokens";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, quietLog, stays, waitFor, type TestEnv } from "./helpers";

const KEY = "shop-cancel-key-".padEnd(40, "c");
const SHOP_AUTH = { authorization: `Bearer ${KEY}` };

let env: TestEnv;
let instances: RunningService[];
beforeAll(async () => {
  env = await createTestEnv({ SHOP_API_KEYS: KEY, ADMIN_TOKEN, PORT: "0", LOG_LEVEL: "error" });
  instances = await Promise.all([startService(env.config, quietLog), startService(env.config, quietLog)]);
});
afterAll(async () => {
  await Promise.all((instances ?? []).map((i) => i.stop()));
  await env?.close();
});

/** A request to instance `i` (0 or 1). */
async function http(i: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${instances[i]!.port}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}
const joinVia = async (i: number, type: number, user: string) => http(i, "POST", "/queue/join", { user_id: user, ticket_type_id: type, quantity: 1 });
const statusVia = async (i: number, token: string) => (await http(i, "GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body;
const untilReserved = (token: string) =>
  waitFor("a hold", async () => (await statusVia(0, token)).status === "reserved", 15_000, 10);
const shopConfirm = (i: number, token: string, key: string) =>
  http(i, "POST", `/shop/holds/${encodeURIComponent(token)}/confirm`, { order_ref: key }, { ...SHOP_AUTH, "idempotency-key": key });
const shopCancel = (i: number, id: number | string, body?: unknown) => http(i, "POST", `/shop/bookings/${id}/cancel`, body, SHOP_AUTH);
const adminCancel = (i: number, id: number | string, body?: unknown) => http(i, "POST", `/admin/bookings/${id}/cancel`, body, ADMIN_AUTH);

describe("cancel", () => {
  test("twice at once from two instances: stock back once, the next waiter served, the person may book again", async () => {
    const type = await env.ticketType({ capacity: 2, per_user_limit: 1 });
    // A books one ticket; C holds the other; B waits behind C's hold
    const a = (await joinVia(0, type, "alice")).body.queue_token;
    await untilReserved(a);
    const booked = await shopConfirm(1, a, "alice-order");
    expect(booked.status).toBe(201);
    const c = (await joinVia(1, type, "carol")).body.queue_token;
    await untilReserved(c);
    const b = (await joinVia(0, type, "bob")).body.queue_token;
    await stays("bob queued behind carol's hold", async () => (await statusVia(1, b)).status === "queued", 300);
    // alice may not book more: Redis's tally refuses her join
    const refused = await joinVia(1, type, "alice");
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("limit_reached");

    const id = booked.body.booking_id;
    const answers = await Promise.all([
      shopCancel(0, id, { reason: "refund" }), adminCancel(1, id, { reason: "chargeback" }),
      shopCancel(1, id), adminCancel(0, id),
    ]);
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 200]);
    for (const x of answers) expect(x.body).toEqual(answers[0]!.body); // whichever won, its booking
    expect(answers[0]!.body).toMatchObject({
      booking_id: id, booking_ref: booked.body.booking_ref, order_ref: "alice-order", status: "cancelled",
      ticket_type_id: type, quantity: 1, amount: 50, currency: "EUR", confirmed_at: booked.body.confirmed_at,
    });
    expect(["refund", "chargeback", null]).toContain(answers[0]!.body.cancel_reason);
    expect(answers[0]!.body.cancelled_at).toBeString();

    // the ticket went back once, and bob, who waited, holds it
    await untilReserved(b);
    expect(await env.stockOf(type)).toBe(0);
    await env.expectInvariants();
    expect(await env.s.redis.hget(env.s.keys(type).bought, "alice")).toBeNull();

    // carol gives hers back: alice joins again and books, her cancelled booking not counted
    expect((await http(0, "POST", "/reservation/release", { token: c })).status).toBe(200);
    const again = await joinVia(1, type, "alice");
    expect(again.status).toBe(200);
    await untilReserved(again.body.queue_token);
    const rebooked = await shopConfirm(0, again.body.queue_token, "alice-again");
    expect(rebooked.status).toBe(201);
    expect(rebooked.body.booking_id).not.toBe(id);

    // cancelling the first booking again moves nothing
    const late = await adminCancel(0, id);
    expect(late.status).toBe(200);
    expect(late.body).toEqual(answers[0]!.body);
    expect(await env.stockOf(type)).toBe(0);
    await env.expectInvariants();
    const ledger = await env.sql`SELECT status, count(*)::int AS n FROM bookings WHERE ticket_type_id = ${type} GROUP BY status ORDER BY status`;
    expect(ledger.map((r) => [r.status, r.n])).toEqual([["cancelled", 1], ["confirmed", 1]]);
    // every cancel is in the audit log, the shop's and the operator's: the one that moved it with its change, the others with none
    const audit = await env.sql`SELECT actor, changes FROM admin_audit WHERE target_type = 'booking' AND target_id = ${id} ORDER BY id`;
    const shopActor = `shop:${new Bun.CryptoHasher("sha256").update(KEY).digest("hex").slice(0, 8)}`;
    expect(audit.map((r) => r.actor).sort()).toEqual(["admin", "admin", "admin", shopActor, shopActor]);
    const moved = audit.filter((r) => Object.keys(r.changes).length > 0);
    expect(moved.length).toBe(1);
    const reason = answers[0]!.body.cancel_reason;
    for (const r of moved) {
      expect(r.changes).toEqual({
        status: { old: "confirmed", new: "cancelled" }, ...(reason !== null && { cancel_reason: { old: null, new: reason } }),
      });
    }
  }, 60_000);

  test("ten cancels of one booking at once, both routes, both instances: its tickets return exactly once", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const token = (await joinVia(0, type, "dave")).body.queue_token;
    await untilReserved(token);
    const booked = await shopConfirm(0, token, "dave-order");
    expect(await env.stockOf(type)).toBe(4);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? shopCancel : adminCancel)(i % 2, booked.body.booking_id)),
    );
    expect(answers.every((x) => x.status === 200 && x.body.status === "cancelled")).toBe(true);
    expect(await env.stockOf(type)).toBe(5);
    await env.expectInvariants();
  }, 30_000);

  test("the token reads confirmed with its booking_ref, then cancelled on every instance: from Redis, and from PostgreSQL once Redis lost it", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const [a, b] = [(await joinVia(0, type, "erin")).body.queue_token, (await joinVia(1, type, "finn")).body.queue_token];
    await untilReserved(a);
    await untilReserved(b);
    const [booked, kept] = [await shopConfirm(1, a, "erin-order"), await shopConfirm(0, b, "finn-order")];
    const booking = { booking_id: booked.body.booking_id, booking_ref: booked.body.booking_ref };
    const answer = (status: string, message: string) => ({ status, ticket_type_id: type, quantity: 1, ...booking, message });
    const confirmed = answer("confirmed", STATUS_MESSAGES.confirmed);
    expect(booking.booking_ref).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    expect([await statusVia(0, a), await statusVia(1, a)]).toEqual([confirmed, confirmed]);

    expect((await shopCancel(0, booking.booking_id)).status).toBe(200);
    const cancelled = answer("cancelled", STATUS_MESSAGES.cancelled);
    expect([await statusVia(0, a), await statusVia(1, a)]).toEqual([cancelled, cancelled]);
    const k = env.s.keys(type);
    expect(await env.s.redis.hmget(k.record(tokenIdOf(a)), "state", "booking_ref")).toEqual(["cancelled", booking.booking_ref]);

    // Redis loses the records: PostgreSQL answers the same, for the cancelled booking and the kept one
    await env.s.redis.del(k.record(tokenIdOf(a)), k.record(tokenIdOf(b)));
    expect(await statusVia(1, a)).toEqual(cancelled);
    expect(await statusVia(0, b)).toMatchObject({ status: "confirmed", booking_id: kept.body.booking_id, booking_ref: kept.body.booking_ref });
  });

  test("an unknown or malformed booking id is 404; without the key 401; bad bodies 400", async () => {
    for (const id of ["999999", "0", "abc", "99999999999"]) {
      expect((await shopCancel(0, id)).body.error).toBe("unknown_booking");
      expect((await adminCancel(1, id)).status).toBe(404);
    }
    const noKey = await http(0, "POST", "/shop/bookings/1/cancel");
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("www-authenticate")).toBe('Bearer realm="shop"');
    expect((await http(0, "POST", "/admin/bookings/1/cancel", undefined, SHOP_AUTH)).status).toBe(401);
    // a NUL (PostgreSQL's text cannot hold it) or an escape: refused, never a 500
    for (const body of [{ reason: 5 }, { reason: "x".repeat(501) }, { why: "x" }, { reason: "a\u0000b" }, { reason: "\u001b[2J" }]) {
      const res = await shopCancel(0, 1, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_input");
    }
  });
});
