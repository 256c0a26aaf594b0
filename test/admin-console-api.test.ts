// What the server adds for the operator's console: GET /admin/events (every event with its
// types as set) and GET /admin/events/:id/figures (every type's live figures in one request),
// against real PostgreSQL and Redis.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnv, join, type TestEnv, ADMIN_AUTH, ADMIN_TOKEN } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
});
afterAll(async () => {
  await env?.close();
});

const admin = (method: string, path: string, body?: unknown) => env.call(method, `/admin${path}`, body, ADMIN_AUTH);

describe("GET /admin/events", () => {
  test("every event, newest first, with its types and the operator's fields", async () => {
    const first = (await admin("POST", "/events", { name: "First" })).body;
    const second = (await admin("POST", "/events", { name: "Second", venue: "Hall" })).body;
    const a = (await admin("POST", `/events/${second.id}/ticket-types`, { name: "A", price: 5, capacity: 3, hold_seconds: 90 })).body;
    const b = (await admin("POST", `/events/${second.id}/ticket-types`, { name: "B", price: 7, capacity: 4, max_active_holds: 2 })).body;
    const listed = await admin("GET", "/events");
    expect(listed.status).toBe(200);
    const ids = listed.body.map((e: any) => e.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    const event = listed.body.find((e: any) => e.id === second.id);
    expect(event).toMatchObject({ name: "Second", venue: "Hall", ticket_types: [a, b] });
    expect(listed.body.find((e: any) => e.id === first.id).ticket_types).toEqual([]);
    expect((await env.call("GET", "/admin/events")).status).toBe(401);
  });
});

describe("GET /admin/events/:id/figures", () => {
  test("each type's figures as GET /admin/ticket-types/:id gives them, and the counts that only grow", async () => {
    const event = (await admin("POST", "/events", { name: "Live" })).body;
    const one = (await admin("POST", `/events/${event.id}/ticket-types`, { name: "One", price: 5, capacity: 10 })).body;
    const two = (await admin("POST", `/events/${event.id}/ticket-types`, { name: "Two", price: 5, capacity: 10 })).body;
    const held = await join(env, "u1", one.id, 2);
    await join(env, "u2", one.id, 1);
    await env.drain();
    await env.post("/reservation/confirm", { token: held });
    await join(env, "u3", two.id, 1); // queued, not served

    const { status, body } = await admin("GET", `/events/${event.id}/figures`);
    expect(status).toBe(200);
    expect(body.event_id).toBe(event.id);
    expect(Date.parse(body.read_at)).toBeGreaterThan(Date.now() - 10_000);
    const [figOne, figTwo] = body.ticket_types;
    const single = (await admin("GET", `/ticket-types/${one.id}`)).body;
    expect(figOne).toMatchObject(single);
    expect(figOne).toMatchObject({ held: 1, holds: 1, confirmed: 2, cancelled: 0, holds_granted: 2, bookings: 1, redis: "ok" });
    expect(figTwo).toMatchObject({ id: two.id, people_queued: 1, holds_granted: 0, bookings: 0 });
  });

  test("readings after the first add what came since (holds, bookings, a cancel) and agree with the tables", async () => {
    const event = (await admin("POST", "/events", { name: "Busy" })).body;
    const type = (await admin("POST", `/events/${event.id}/ticket-types`, { name: "Floor", price: 5, capacity: 20 })).body;
    const first = await join(env, "b1", type.id, 2);
    await env.drain();
    await env.post("/reservation/confirm", { token: first });
    expect((await admin("GET", `/events/${event.id}/figures`)).body.ticket_types[0])
      .toMatchObject({ held: 0, confirmed: 2, holds_granted: 1, bookings: 1 }); // counted: the marks are set

    // since that reading: two holds, one of them booked, and the first booking cancelled
    const second = await join(env, "b2", type.id, 3);
    await join(env, "b3", type.id, 1);
    await env.drain();
    await env.post("/reservation/confirm", { token: second });
    const [booking] = await env.sql`SELECT id FROM bookings WHERE ticket_type_id = ${type.id} ORDER BY id LIMIT 1`;
    expect((await admin("POST", `/bookings/${booking!.id}/cancel`, { reason: "refund" })).status).toBe(200);

    const [truth] = await env.sql`
      SELECT count(*)::int AS holds_granted,
             (SELECT count(*)::int FROM bookings WHERE ticket_type_id = ${type.id}) AS bookings,
             (SELECT coalesce(sum(quantity), 0)::int FROM bookings WHERE ticket_type_id = ${type.id} AND status = 'cancelled') AS cancelled
      FROM reservations WHERE ticket_type_id = ${type.id}`;
    const figures = (await admin("GET", `/events/${event.id}/figures`)).body.ticket_types[0];
    expect(truth).toEqual({ holds_granted: 3, bookings: 2, cancelled: 2 });
    expect(figures).toMatchObject({ ...truth, held: 1, holds: 1, confirmed: 3 });
    const single = (await admin("GET", `/ticket-types/${type.id}`)).body;
    expect(figures).toMatchObject({ stock: single.stock, held: single.held, confirmed: single.confirmed });
  });

  test("an event without types has none; an unknown one is 404, a malformed id 400", async () => {
    const event = (await admin("POST", "/events", { name: "Empty" })).body;
    expect((await admin("GET", `/events/${event.id}/figures`)).body.ticket_types).toEqual([]);
    expect((await admin("GET", "/events/999999/figures")).body.error).toBe("unknown_event");
    expect((await admin("GET", "/events/x/figures")).status).toBe(400);
  });
});
