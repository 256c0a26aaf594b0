// The webhook outbox (issue #21, sql/0012_webhooks.sql): each change writes its deliveries in
// its own transaction, through triggers, whichever path made it. Here no worker runs (the
// in-process app has none), so every delivery stays pending and is read from PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bookHold } from "../src/reservations/confirm";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, join, joinMany, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
});
afterAll(async () => {
  await env?.close();
});

type Delivery = { endpoint_id: number; message_id: string; event_type: string; payload: { type: string; timestamp: string; data: Record<string, any> } };

async function subscribe(events: string[], enabled = true): Promise<number> {
  const [row] = await env.sql`
    INSERT INTO webhook_endpoints (url, events, secret, enabled)
    VALUES ('http://127.0.0.1:9/hook', ${events}, 'whsec_dGVzdA==', ${enabled}) RETURNING id`;
  return row!.id;
}
/** An endpoint's deliveries, once the grants' batches are expanded (the webhooks worker's step). */
async function deliveries(endpoint: number) {
  await env.sql`SELECT webhook_expand_grants(1000)`;
  return env.sql<Delivery[]>`
    SELECT endpoint_id, message_id, event_type, payload FROM webhook_deliveries WHERE endpoint_id = ${endpoint}
    ORDER BY created_at, id`;
}
const confirm = (token: string) => env.call("POST", "/reservation/confirm", { token });
const tokenOf = (data: Record<string, any>) => data.queue_token as string;

describe("outbox", () => {
  test("nothing subscribed: a whole sale writes no delivery", async () => {
    const type = await env.ticketType({ capacity: 2 });
    const [a, b] = await joinMany(env, type, 2, "quiet");
    await env.drain();
    expect((await confirm(a!)).status).toBe(200);
    expect((await env.call("POST", "/reservation/release", { token: b })).status).toBe(200);
    expect(await env.sql`SELECT 1 FROM webhook_deliveries UNION ALL SELECT 1 FROM webhook_grant_batches`).toHaveLength(0);
  });

  test("a scripted sale: every grant, booking, release, expiry, sold-out, cancel and admin change, with PostgreSQL's data", async () => {
    const all = await subscribe(["*"]);
    const bookingsOnly = await subscribe(["booking.confirmed"]);
    const off = await subscribe(["*"], false);
    const type = await env.ticketType({ capacity: 2 });
    const [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map((u) => join(env, u, type)));
    await env.drain(); // alice and bob hold
    expect((await confirm(alice!)).status).toBe(200);
    expect((await env.call("POST", "/reservation/release", { token: bob })).status).toBe(200);
    await env.drain(); // carol holds bob's ticket
    await env.backdate(carol!);
    await env.cleaner().tick();
    expect((await confirm(carol!)).status).toBe(410); // a confirm that failed tells nothing
    await env.drain(); // dave holds carol's ticket
    expect((await confirm(dave!)).status).toBe(200); // the last ticket: sold out
    const [aliceBooking] = await env.sql`SELECT id FROM bookings WHERE token = ${alice!}`;
    expect((await env.call("POST", `/admin/bookings/${aliceBooking!.id}/cancel`, { reason: "refund" }, ADMIN_AUTH)).status).toBe(200);
    expect((await env.call("PATCH", `/admin/ticket-types/${type}`, { paused: true }, ADMIN_AUTH)).status).toBe(200);
    expect((await env.call("PATCH", `/admin/ticket-types/${type}`, { paused: true }, ADMIN_AUTH)).status).toBe(200); // changes nothing

    const told = await deliveries(all);
    expect(told.map((d) => [d.event_type, d.payload.data.queue_token ?? null])).toEqual([
      ["hold.granted", alice], ["hold.granted", bob],
      ["booking.confirmed", alice],
      ["hold.released", bob],
      ["hold.granted", carol],
      ["hold.expired", carol],
      ["hold.granted", dave],
      ["booking.confirmed", dave],
      ["ticket_type.sold_out", null],
      ["booking.cancelled", alice],
      ["ticket_type.updated", null],
    ]);
    for (const d of told) expect(d.payload.type).toBe(d.event_type);
    expect(new Set(told.map((d) => d.message_id)).size).toBe(told.length);

    // each event's data is what PostgreSQL keeps
    const holds = await env.sql`
      SELECT r.token, r.user_id, r.quantity, r.expires_at, r.ended_at, t.event_id, t.price * r.quantity AS amount
      FROM reservations r JOIN ticket_types t ON t.id = r.ticket_type_id WHERE r.ticket_type_id = ${type}`;
    const hold = new Map(holds.map((h) => [h.token as string, h]));
    for (const d of told.filter((d) => d.event_type.startsWith("hold."))) {
      const h = hold.get(tokenOf(d.payload.data))!;
      expect(d.payload.data).toMatchObject({ user_id: h.user_id, ticket_type_id: type, event_id: h.event_id, quantity: h.quantity, currency: "EUR" });
      // carol's deadline was moved into the past after her grant told it
      if (d.event_type !== "hold.granted" || h.token !== carol) expect(d.payload.data.expires_at).toBe(h.expires_at.toISOString());
      if (d.event_type === "hold.granted") expect(d.payload.data.amount).toBe(Number(h.amount));
      else expect(d.payload.data.ended_at).toBe(h.ended_at.toISOString());
    }
    const bookings = await env.sql`SELECT * FROM bookings WHERE ticket_type_id = ${type}`;
    for (const d of told.filter((d) => d.event_type.startsWith("booking."))) {
      const b = bookings.find((b) => b.token === tokenOf(d.payload.data))!;
      expect(d.payload.data).toMatchObject({
        booking_id: b.id, booking_ref: b.booking_ref, order_ref: null, user_id: b.user_id, ticket_type_id: type,
        quantity: b.quantity, amount: Number(b.amount), currency: b.currency, confirmed_at: b.created_at.toISOString(),
      });
      expect(d.payload.timestamp).toBe((d.event_type === "booking.cancelled" ? b.cancelled_at : b.created_at).toISOString());
    }
    expect(told.find((d) => d.event_type === "booking.cancelled")!.payload.data).toMatchObject({ reason: "refund", cancelled_at: bookings.find((b) => b.token === alice)!.cancelled_at.toISOString() });
    expect(told.find((d) => d.event_type === "ticket_type.sold_out")!.payload.data).toMatchObject({ ticket_type_id: type, capacity: 2, booked: 2 });
    expect(told.find((d) => d.event_type === "ticket_type.updated")!.payload.data).toMatchObject({
      ticket_type_id: type, paused: true, actor: "admin", changes: { paused: { old: false, new: true } },
    });

    // an endpoint hears only what it subscribed to, with the same webhook-id; a disabled one nothing
    const confirmed = told.filter((d) => d.event_type === "booking.confirmed");
    expect((await deliveries(bookingsOnly)).map((d) => d.message_id)).toEqual(confirmed.map((d) => d.message_id));
    expect(await deliveries(off)).toHaveLength(0);
    await env.sql`DELETE FROM webhook_endpoints`;
  });

  test("grants write one row per batch; expanders racing make each hold's delivery once per endpoint", async () => {
    const [first, second] = [await subscribe(["hold.granted"]), await subscribe(["*"])];
    const type = await env.ticketType({ capacity: 300 });
    await joinMany(env, type, 300, "batch");
    await env.drain(); // PROCESSOR_BATCH_SIZE 100: three grant batches
    expect((await env.sql`SELECT count(*)::int AS n FROM webhook_grant_batches WHERE ticket_type_id = ${type}`)[0]!.n).toBe(3);
    const written = await Promise.all(Array.from({ length: 6 }, () => env.sql`SELECT webhook_expand_grants(1) AS n`));
    expect(written.reduce((sum, [row]) => sum + row!.n, 0)).toBe(600);
    for (const endpoint of [first, second]) {
      const told = await deliveries(endpoint);
      expect(new Set(told.map((d) => d.payload.data.queue_token)).size).toBe(300);
      expect(told).toHaveLength(300);
    }
    const ids = await env.sql`SELECT DISTINCT message_id FROM webhook_deliveries WHERE endpoint_id IN (${first}, ${second})`;
    expect(ids).toHaveLength(300); // one webhook-id per hold, the same to both endpoints
    await env.sql`DELETE FROM webhook_endpoints`;
  });

  test("an expansion lost (the worker commits asynchronously) and made again gives the same webhook-ids", async () => {
    const endpoint = await subscribe(["hold.granted"]);
    const type = await env.ticketType({ capacity: 20 });
    await joinMany(env, type, 20, "again");
    await env.drain();
    const idsOf = (sql: typeof env.sql) =>
      sql`SELECT message_id FROM webhook_deliveries WHERE endpoint_id = ${endpoint} ORDER BY message_id`;
    let first: unknown[] = [];
    await expect(env.sql.begin(async (tx) => {
      await tx`SELECT webhook_expand_grants(10)`;
      first = [...(await idsOf(tx as never))].map((r) => r.message_id);
      throw new Error("PostgreSQL lost the commit");
    })).rejects.toThrow("PostgreSQL lost the commit");
    expect(first).toHaveLength(20);
    await env.sql`SELECT webhook_expand_grants(10)`;
    expect((await idsOf(env.sql)).map((r) => r.message_id)).toEqual(first);
    await env.sql`DELETE FROM webhook_endpoints`;
  });

  test("a change rolled back leaves no event", async () => {
    const endpoint = await subscribe(["*"]);
    const type = await env.ticketType({ capacity: 1 });
    const token = await join(env, "rolled", type);
    await env.drain();
    const before = (await deliveries(endpoint)).length;
    const rolledBack = env.sql.begin(async (tx) => {
      expect(await bookHold(tx as never, token)).toBeDefined();
      expect((await tx`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = ${endpoint}`)[0]!.n).toBe(before + 2); // confirmed, sold out
      throw new Error("the payment failed");
    });
    await expect(rolledBack).rejects.toThrow("the payment failed");
    expect(await deliveries(endpoint)).toHaveLength(before);
    expect((await confirm(token)).status).toBe(200);
    expect((await deliveries(endpoint)).slice(before).map((d) => d.event_type)).toEqual(["booking.confirmed", "ticket_type.sold_out"]);
    await env.sql`DELETE FROM webhook_endpoints`;
  });

  test("the last holds confirmed all at once: sold out told exactly once", async () => {
    const endpoint = await subscribe(["ticket_type.sold_out"]);
    for (let round = 0; round < 5; round++) {
      const type = await env.ticketType({ capacity: 12 });
      const tokens = await joinMany(env, type, 12, `race-${round}`);
      await env.drain();
      const answers = await Promise.all(tokens.map(confirm));
      expect(answers.map((a) => a.status)).toEqual(tokens.map(() => 200));
      const told = (await deliveries(endpoint)).filter((d) => d.payload.data.ticket_type_id === type);
      expect(told).toHaveLength(1);
    }
    await env.sql`DELETE FROM webhook_endpoints`;
  });
});
