// Webhook delivery (issue #21) from a real instance (its webhooks worker) to real receivers
// (test/webhook-receiver.ts) that verify every signature with the standardwebhooks library:
// a scripted sale whose every event arrives, with data matching PostgreSQL; retries (same
// webhook-id, a later webhook-timestamp), the schedule exhausted, a redirect not followed, a
// hanging receiver timed out while the sale goes on; two instances on one database sending
// each delivery once; a burst of 10,000 delivered whole.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startService, type RunningService } from "../src/server";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";
import { subscribe, WebhookReceiver, type Received } from "./webhook-receiver";
import { deleteDelivered, recordOutcomes } from "../src/webhooks/outbox";

let env: TestEnv;
let instance: RunningService;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  env = await createTestEnv({
    ADMIN_TOKEN, PORT: "0", LOG_LEVEL: "error",
    WEBHOOK_RETRY_SCHEDULE: "0,1,1", WEBHOOK_TIMEOUT_MS: "1000", WEBHOOK_POLL_MS: "20",
  });
  instance = await startService(env.config, quietLog);
});
afterAll(async () => {
  for (const r of receivers) r.release();
  await instance?.stop(5000);
  await Promise.all(receivers.map((r) => r.stop()));
  await env?.close();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

/** A receiver and an endpoint of its own, subscribed to `events`. */
async function endpoint(events: string[] = ["*"]) {
  const r = await receiver();
  const { id, secret } = await subscribe(env, r.url, events);
  r.secrets = [secret];
  return { r, id, secret };
}

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${instance.port}${path}`, {
    method, headers: { "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}
const join = async (user: string, type: number) => {
  const res = await http("POST", "/queue/join", { user_id: user, ticket_type_id: type, quantity: 1 });
  expect(res.status).toBe(200);
  return res.body.queue_token as string;
};
const reserved = (token: string) =>
  waitFor("a hold", async () => (await http("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body.status === "reserved", 15_000, 10);

/** Events of this test's own making, N of them: one ticket_type.updated each (an operator's PATCH). */
async function emitUpdates(count: number): Promise<void> {
  await env.sql`SELECT webhook_emit('ticket_type.updated', now(), jsonb_build_object('n', n)) FROM generate_series(1, ${count}) n`;
}
const deliveriesOf = (endpointId: number) =>
  env.sql`SELECT * FROM webhook_deliveries WHERE endpoint_id = ${endpointId} ORDER BY id`;
/** Waits until `count` of an endpoint's deliveries are recorded `status` (a 2xx is recorded a moment after the receiver saw it). */
const untilRecorded = (endpointId: number, count: number, status = "delivered") =>
  waitFor(`${count} ${status}`, async () =>
    (await env.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = ${endpointId} AND status = ${status}`)[0]!.n === count, 15_000);
const disable = (endpointId: number) => env.sql`UPDATE webhook_endpoints SET enabled = false WHERE id = ${endpointId}`;

describe("a scripted sale", () => {
  test("every booking, release, expiry, cancellation, sold-out and admin change arrives once, signed, matching PostgreSQL; a failed confirm tells nothing", async () => {
    const { r, id } = await endpoint(["*"]);
    const wide = await env.ticketType({ capacity: 5, name: "Wide" });
    const last = await env.ticketType({ capacity: 1, name: "Last" });

    const [booker, releaser, lapser] = [await join("booker", wide), await join("releaser", wide), await join("lapser", wide)];
    for (const t of [booker, releaser, lapser]) await reserved(t);
    const booked = await http("POST", "/reservation/confirm", { token: booker });
    expect(booked.status).toBe(200);
    expect((await http("POST", "/reservation/release", { token: releaser })).status).toBe(200);
    await env.backdate(lapser);
    await waitFor("the lapsed hold expired", async () =>
      (await env.sql`SELECT status FROM reservations WHERE token = ${lapser}`)[0]!.status === "expired", 10_000);
    const late = await http("POST", "/reservation/confirm", { token: lapser });
    expect(late.status).not.toBe(200); // a confirm that failed: no event
    const [{ id: bookingId }] = await env.sql`SELECT id FROM bookings WHERE token = ${booker}`;
    expect((await http("POST", `/admin/bookings/${bookingId}/cancel`, { reason: "refund" }, ADMIN_AUTH)).status).toBe(200);
    const patched = await http("PATCH", `/admin/ticket-types/${wide}`, { name: "Wide Floor" }, ADMIN_AUTH);
    expect(patched.status).toBe(200);
    const buyer = await join("last-buyer", last);
    await reserved(buyer);
    expect((await http("POST", "/reservation/confirm", { token: buyer })).status).toBe(200);

    // what PostgreSQL says happened, as (type, key) pairs
    const holds = await env.sql`SELECT token, status, user_id, quantity, ticket_type_id FROM reservations ORDER BY created_at`;
    const bookings = await env.sql`SELECT id, token, status, booking_ref, amount FROM bookings ORDER BY id`;
    const audits = await env.sql`SELECT target_id FROM admin_audit WHERE target_type = 'ticket_type' AND changes <> '{}'::jsonb`;
    const expected = [
      ...holds.map((h) => `hold.granted ${h.token}`),
      ...holds.filter((h) => h.status === "released" || h.status === "expired").map((h) => `hold.${h.status} ${h.token}`),
      ...bookings.map((b) => `booking.confirmed ${b.booking_ref}`),
      ...bookings.filter((b) => b.status === "cancelled").map((b) => `booking.cancelled ${b.booking_ref}`),
      ...audits.map((a) => `ticket_type.updated ${a.target_id}`),
      `ticket_type.sold_out ${last}`,
    ].sort();
    expect(expected).toHaveLength(3 + 1 + 2 + 1 + 1 + 1 + 1 + 1); // 4 holds, released, expired, 2 bookings, cancelled, updated, sold out
    const keyOf = (m: Received) => {
      const d = m.payload.data;
      const key = m.payload.type.startsWith("hold.") ? d.queue_token : m.payload.type.startsWith("booking.") ? d.booking_ref : d.ticket_type_id;
      return `${m.payload.type} ${key}`;
    };
    await waitFor("every event delivered", () => r.delivered().size >= expected.length, 15_000);
    await untilRecorded(id, expected.length);
    const delivered = [...r.delivered().values()];
    expect(delivered.map(keyOf).sort()).toEqual(expected);
    expect(r.received.every((m) => m.verified)).toBe(true);
    expect(r.received).toHaveLength(expected.length); // each once: no failures, no repeats

    // the data is PostgreSQL's
    const byKey = new Map(delivered.map((m) => [keyOf(m), m.payload]));
    const booking = bookings.find((b) => b.token === booker)!;
    expect(byKey.get(`booking.cancelled ${booking.booking_ref}`)!.data).toMatchObject({
      booking_id: booking.id, queue_token: booker, user_id: "booker", amount: Number(booking.amount), reason: "refund", ticket_type_id: wide,
    });
    expect(byKey.get(`hold.expired ${lapser}`)!.data).toMatchObject({ user_id: "lapser", quantity: 1, reason: "not confirmed before expires_at" });
    expect(byKey.get(`hold.released ${releaser}`)!.data).toMatchObject({ user_id: "releaser", reason: "released by the buyer" });
    expect(byKey.get(`ticket_type.updated ${wide}`)!.data).toMatchObject({ name: "Wide Floor", changes: { name: { old: "Wide", new: "Wide Floor" } } });
    expect(byKey.get(`ticket_type.sold_out ${last}`)!.data).toMatchObject({ ticket_type_id: last, capacity: 1, booked: 1 });
    // the webhook-id is the stored message id, the body the stored payload
    const rows = await deliveriesOf(id);
    expect(rows.every((row) => row.status === "delivered" && row.attempts === 1 && row.delivered_at !== null)).toBe(true);
    for (const m of delivered) expect(rows.find((row) => row.message_id === m.id)!.payload).toEqual(m.payload);
    await disable(id);
  }, 60_000);
});

describe("sold out", () => {
  test("the last 20 holds confirmed at once: every confirm 200 (no deadlock on the type's row), one ticket_type.sold_out", async () => {
    const { r, id } = await endpoint(["ticket_type.sold_out", "booking.confirmed"]);
    const type = await env.ticketType({ capacity: 20 });
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => join(`last-${i}`, type)));
    for (const t of tokens) await reserved(t);
    const confirms = await Promise.all(tokens.map((token) => http("POST", "/reservation/confirm", { token })));
    expect(confirms.map((c) => c.status)).toEqual(Array(20).fill(200));
    await untilRecorded(id, 21);
    const types = [...r.delivered().values()].map((m) => m.payload.type);
    expect(types.filter((t) => t === "ticket_type.sold_out")).toHaveLength(1);
    expect(types.filter((t) => t === "booking.confirmed")).toHaveLength(20);
    await disable(id);
  }, 30_000);
});

describe("retries", () => {
  test("500 to the first attempts: the same webhook-id again, a later webhook-timestamp, then delivered", async () => {
    const { r, id } = await endpoint(["ticket_type.updated"]);
    r.behaviour = { failFirst: 2 };
    await emitUpdates(3);
    await waitFor("three delivered", () => r.delivered().size === 3, 15_000);
    await untilRecorded(id, 3);
    for (const [messageId] of r.delivered()) {
      const attempts = r.attempts(messageId);
      expect(attempts.map((a) => a.answered)).toEqual([500, 500, 200]);
      expect(attempts.every((a) => a.verified && a.body === attempts[0]!.body)).toBe(true);
      expect(attempts[1]!.timestamp).toBeGreaterThan(attempts[0]!.timestamp);
      expect(attempts[2]!.timestamp).toBeGreaterThan(attempts[1]!.timestamp);
    }
    const rows = await deliveriesOf(id);
    expect(rows.map((row) => [row.status, row.attempts, row.last_status_code])).toEqual(Array(3).fill(["delivered", 3, 200]));
    await disable(id);
  }, 30_000);

  test("every attempt of the schedule failing: failed, with the last answer; nothing after", async () => {
    const { r, id } = await endpoint(["ticket_type.updated"]);
    r.behaviour = { failFirst: 100 };
    await emitUpdates(1);
    await waitFor("failed", async () => (await deliveriesOf(id))[0]?.status === "failed", 15_000);
    const [row] = await deliveriesOf(id);
    expect([row!.attempts, row!.last_status_code, row!.last_error]).toEqual([3, 500, "answered 500"]);
    expect(r.received).toHaveLength(3);
    await disable(id);
  }, 30_000);

  test("a redirect is a failure, never followed", async () => {
    const { r, id } = await endpoint(["ticket_type.updated"]);
    r.behaviour = { status: 302 };
    await emitUpdates(1);
    await waitFor("failed", async () => (await deliveriesOf(id))[0]?.status === "failed", 15_000);
    const [row] = await deliveriesOf(id);
    expect([row!.last_status_code, row!.last_error]).toEqual([302, "redirect (302) not followed"]);
    expect(r.received.map((m) => m.path)).toEqual(["/hook", "/hook", "/hook"]); // never /hook/moved
    await disable(id);
  }, 30_000);

  test("a hanging receiver times out (WEBHOOK_TIMEOUT_MS) while joins and confirms go on, and other endpoints are served", async () => {
    const hung = await endpoint(["ticket_type.updated"]);
    hung.r.behaviour = { hang: true };
    await emitUpdates(200); // more than its share of the worker's slots
    await waitFor("the hung receiver holding requests", () => hung.r.received.length >= 10, 10_000);
    const well = await endpoint(["hold.granted"]);
    const type = await env.ticketType({ capacity: 20 });
    const started = Date.now();
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => join(`hang-${i}`, type)));
    for (const t of tokens) await reserved(t);
    const confirms = await Promise.all(tokens.map((token) => http("POST", "/reservation/confirm", { token })));
    expect(confirms.map((c) => c.status)).toEqual(Array(20).fill(200));
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor("the other endpoint served", () => well.r.delivered().size === 20, 10_000);
    await waitFor("a timed-out attempt recorded", async () =>
      (await env.sql`SELECT 1 FROM webhook_deliveries WHERE endpoint_id = ${hung.id} AND last_error = 'no answer within 1000 ms'`).length > 0, 10_000);
    await disable(hung.id);
    await disable(well.id);
    hung.r.release();
  }, 60_000);
});

describe("two instances on one database", () => {
  test("no delivery posted twice at once, each delivered once", async () => {
    const second = await startService(env.config, quietLog);
    try {
      const { r, id } = await endpoint(["ticket_type.updated"]);
      r.behaviour = { delayMs: 50 };
      await emitUpdates(400);
      await waitFor("all delivered", () => r.delivered().size === 400, 30_000);
      await untilRecorded(id, 400);
      expect(r.maxSameIdInFlight).toBe(1);
      expect(r.received).toHaveLength(400);
      const rows = await deliveriesOf(id);
      expect(rows.every((row) => row.status === "delivered" && row.attempts === 1)).toBe(true);
      await disable(id);
    } finally {
      await second.stop(5000);
    }
  }, 60_000);
});

describe("a burst", () => {
  // How fast is the bench's to say (bun run bench webhooks), never a test's.
  test("10,000 events at once to one receiver: every one delivered and recorded", async () => {
    const { r, id } = await endpoint(["ticket_type.updated"]);
    const count = 10_000;
    await emitUpdates(count);
    await waitFor("all delivered", () => r.deliveredIds.size === count, 30_000, 10);
    await untilRecorded(id, count);
    await disable(id);
  }, 60_000);
});

describe("the statements", () => {
  test("an outcome is recorded only on its own claim: a stale sender's is dropped", async () => {
    const { id } = await endpoint(["ticket_type.updated"]);
    await disable(id); // the worker claims none of a disabled endpoint's: this test plays the claims
    const [row] = await env.sql`
      INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload, attempts)
      VALUES (${id}, 'msg_stale', 'ticket_type.updated', '{}', 2) RETURNING id`;
    const stale = { id: row!.id, attempts: 1, statusCode: 200, delivered: true, error: null, retryInSeconds: null };
    expect(await recordOutcomes(env.sql, [stale])).toEqual([]);
    expect((await deliveriesOf(id))[0]!.status).toBe("pending");
    expect(await recordOutcomes(env.sql, [{ ...stale, attempts: 2 }])).toMatchObject([{ eventType: "ticket_type.updated", outcome: "delivered" }]);
    expect(await recordOutcomes(env.sql, [{ ...stale, attempts: 2, delivered: false }])).toEqual([]); // delivered stays delivered
  });

  test("retention deletes delivered rows past WEBHOOK_RETENTION_DAYS, keeps the rest", async () => {
    const { id } = await endpoint(["hold.expired"]);
    await disable(id); // rows of its own, written by hand
    await env.sql`
      INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload, status, delivered_at)
      VALUES (${id}, 'msg_old', 'hold.expired', '{}', 'delivered', now() - interval '8 days'),
             (${id}, 'msg_recent', 'hold.expired', '{}', 'delivered', now() - interval '6 days'),
             (${id}, 'msg_failed', 'hold.expired', '{}', 'failed', NULL)`;
    await env.sql`UPDATE webhook_deliveries SET created_at = now() - interval '9 days' WHERE endpoint_id = ${id}`;
    expect(await deleteDelivered(env.sql, 7, 1)).toBe(1);
    expect((await deliveriesOf(id)).map((r) => r.message_id)).toEqual(["msg_recent", "msg_failed"]);
  });

  test("retention deletes the pending deliveries of an endpoint deleted meanwhile (nobody would send them)", async () => {
    const [{ gone }] = await env.sql`SELECT coalesce(max(id), 0) + 1000 AS gone FROM webhook_endpoints`;
    await env.sql`INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload) VALUES (${gone}, 'msg_orphan', 'hold.expired', '{}')`;
    expect(await deleteDelivered(env.sql, 7)).toBe(1);
    expect(await deliveriesOf(gone)).toHaveLength(0);
  });
});
