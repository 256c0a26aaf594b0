// Every route: the happy path and each error status, against real Redis and PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnv, join, statusOf, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const post = (path: string, body?: unknown) => env.post(path, body);
const stockOf = (id: number) => env.stockOf(id);

/** Joins and serves one user; returns the held token. */
async function holdFor(userId: string, ticketTypeId: number, quantity = 1) {
  const token = await join(env, userId, ticketTypeId, quantity);
  await env.drain();
  expect((await statusOf(env, token)).status).toBe("reserved");
  return token;
}

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toBe(code);
  expect(typeof res.body.message).toBe("string");
  expect(res.body.message.length).toBeGreaterThan(0);
}

describe("GET /events", () => {
  test("lists events with their ticket types, stock and sale status", async () => {
    const onSale = await env.ticketType({ capacity: 10, name: "Balcony" });
    const soldOut = await env.ticketType({ capacity: 0, name: "Box" });
    const res = await env.call("GET", "/events");
    expect(res.status).toBe(200);
    const types = (res.body as any[]).flatMap((e) => e.ticket_types);
    expect(types.find((t) => t.id === onSale)).toMatchObject({
      name: "Balcony", price: 50, capacity: 10, stock: 10, per_user_limit: 4, status: "on_sale",
    });
    expect(types.find((t) => t.id === soldOut)).toMatchObject({ stock: 0, status: "sold_out" });
    expect(res.body[0]).toHaveProperty("venue");
  });
});

describe("POST /queue/join", () => {
  test("queues a user and answers token, position, status and message", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const first = await post("/queue/join", { user_id: "ann", ticket_type_id: type });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ position: 1, status: "queued", ticket_type_id: type, quantity: 1 });
    expect(first.body.queue_token).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(first.body.message).toContain("number 1");
    const second = await post("/queue/join", { user_id: 42, ticket_type_id: type, quantity: 2 });
    expect(second.body).toMatchObject({ position: 2, status: "queued", quantity: 2 });
  });

  test("joining again while the place is live is 409 already_queued, without the token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const a = await post("/queue/join", { user_id: "bea", ticket_type_id: type });
    const b = await post("/queue/join", { user_id: "bea", ticket_type_id: type });
    expectError(b, 409, "already_queued");
    expect(b.body.status).toBe("queued");
    expect(Object.keys(b.body).sort()).toEqual(["error", "message", "request_id", "status"]);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(1);
    // ... and while the hold is live, too
    await env.drain();
    const c = await post("/queue/join", { user_id: "bea", ticket_type_id: type });
    expectError(c, 409, "already_queued");
    expect(c.body.status).toBe("reserved");
    expect(JSON.stringify(c.body)).not.toContain(a.body.queue_token);
    expect(c.body).not.toHaveProperty("expires_at");
  });

  test("the old hole is closed: whoever knows a user id cannot learn that user's token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const victim = await post("/queue/join", { user_id: "victim@example.com", ticket_type_id: type });
    expect(victim.status).toBe(200);
    const attacker = await post("/queue/join", { user_id: "victim@example.com", ticket_type_id: type });
    expect(attacker.status).toBe(409);
    expect(JSON.stringify(attacker.body)).not.toContain(victim.body.queue_token);
    expect(attacker.body).not.toHaveProperty("queue_token");
    expect(attacker.body).not.toHaveProperty("position");
    // the victim's token still works
    expect((await statusOf(env, victim.body.queue_token)).status).toBe("queued");
  });

  test("a number and its decimal string are one user; so are composed and decomposed é", async () => {
    const type = await env.ticketType({ capacity: 10 });
    expect((await post("/queue/join", { user_id: 7, ticket_type_id: type })).status).toBe(200);
    expectError(await post("/queue/join", { user_id: "7", ticket_type_id: type }), 409, "already_queued");
    expect((await post("/queue/join", { user_id: "07", ticket_type_id: type })).status).toBe(200); // another string
    expect((await post("/queue/join", { user_id: "cafe\u0301", ticket_type_id: type })).status).toBe(200);
    expectError(await post("/queue/join", { user_id: "caf\u00e9", ticket_type_id: type }), 409, "already_queued");
    // Redis names the user by the NFC form
    expect(await env.s.redis.hexists(env.s.keys(type).users, "caf\u00e9")).toBe(1);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(3);
  });

  test("500 concurrent joins get places 1..500, one each; 50 at once by one user: one place, 49 already_queued", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const crowd = await Promise.all(Array.from({ length: 500 }, (_, i) => post("/queue/join", { user_id: `c${i}`, ticket_type_id: type })));
    expect(crowd.every((a) => a.status === 200)).toBe(true);
    expect(new Set(crowd.map((a) => a.body.queue_token)).size).toBe(500);
    // nobody is served here, so a position is the place
    expect(crowd.map((a) => a.body.position).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(await env.s.redis.sismember(env.s.activeKey, String(type))).toBe(1);
    const eager = await Promise.all(Array.from({ length: 50 }, () => post("/queue/join", { user_id: "eager", ticket_type_id: type })));
    const won = eager.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    expect(won[0]!.body.position).toBe(501);
    const refused = eager.filter((a) => a.status !== 200);
    expect(refused).toHaveLength(49);
    expect(refused.every((a) => a.status === 409 && a.body.error === "already_queued" && !("queue_token" in a.body))).toBe(true);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(501);
  });

  test("404 for an unknown ticket type", async () => {
    expectError(await post("/queue/join", { user_id: "cat", ticket_type_id: 999999 }), 404, "unknown_ticket_type");
  });

  test("409 when the ticket type is sold out", async () => {
    const type = await env.ticketType({ capacity: 0 });
    expectError(await post("/queue/join", { user_id: "dan", ticket_type_id: type }), 409, "sold_out");
  });

  test("400 for a quantity over the per-user limit", async () => {
    const type = await env.ticketType({ capacity: 10, per_user_limit: 2 });
    expectError(await post("/queue/join", { user_id: "eve", ticket_type_id: type, quantity: 3 }), 400, "quantity_over_limit");
  });

  test("400 for bad input, which changes nothing", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const bad: unknown[] = [
      {},
      { user_id: "x" },
      { ticket_type_id: type },
      { user_id: "", ticket_type_id: type },
      { user_id: "a\u0000b", ticket_type_id: type },
      { user_id: "x".repeat(129), ticket_type_id: type },
      { user_id: { nested: true }, ticket_type_id: type },
      { user_id: "x", ticket_type_id: -1 },
      { user_id: "x", ticket_type_id: 1.5 },
      { user_id: "x", ticket_type_id: 2 ** 40 },
      { user_id: "x", ticket_type_id: "abc" },
      { user_id: "x", ticket_type_id: type, quantity: 0 },
      { user_id: "x", ticket_type_id: type, quantity: "lots" },
      // strings are never numbers: no coercion
      { user_id: "x", ticket_type_id: String(type) },
      { user_id: "x", ticket_type_id: `\n${type}` },
      { user_id: "x", ticket_type_id: `${type}e0` },
      { user_id: "x", ticket_type_id: type, quantity: "1" },
      { user_id: "x", ticket_type_id: type, quantity: "0" },
      { user_id: "x", ticket_type_id: type, quantity: "-5" },
      { user_id: "x", ticket_type_id: type, quantity: "1e0" },
      { user_id: "x", ticket_type_id: type, quantity: 1001 },
      { user_id: "x", ticket_type_id: 2147483648 },
      { user_id: "x", ticket_type_id: true },
      { user_id: "x", ticket_type_id: null },
      // user ids that would collide with another user's
      `{"user_id":9007199254740993,"ticket_type_id":${type}}`,
      `{"user_id":1e23,"ticket_type_id":${type}}`,
      `{"user_id":"\\ud800","ticket_type_id":${type}}`,
      { user_id: "\n7", ticket_type_id: type },
      { user_id: "a\u0085b", ticket_type_id: type },
      { user_id: "a\u007fb", ticket_type_id: type },
      { user_id: -1, ticket_type_id: type },
      { user_id: 1.5, ticket_type_id: type },
      { user_id: null, ticket_type_id: type },
      { user_id: true, ticket_type_id: type },
      { user_id: [7], ticket_type_id: type },
      [],
      "null",
      "{not json",
      '"a string"',
    ];
    for (const body of bad) {
      const res = await post("/queue/join", body);
      expect(res.status).toBe(400);
      expect(["invalid_input", "invalid_json"]).toContain(res.body.error);
    }
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });

  test("413 for a body over 64 KiB, declared or chunked", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const big = JSON.stringify({ user_id: "x", ticket_type_id: type, pad: "y".repeat(70_000) });
    expectError(await post("/queue/join", big), 413, "body_too_large");
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode("y".repeat(5000)));
        controller.close();
      },
    });
    const res = await env.app.handle(new Request("http://test/queue/join", { method: "POST", body: chunked }));
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe("body_too_large");
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });
});

describe("GET /reservation/status", () => {
  test("queued with position, then reserved with expires_at", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const a = await join(env, "u1", type);
    const b = await join(env, "u2", type);
    expect(await statusOf(env, b)).toMatchObject({ status: "queued", position: 2, ticket_type_id: type });
    await env.drain();
    const held = await statusOf(env, a);
    expect(held).toMatchObject({ status: "reserved", ticket_type_id: type, quantity: 1 });
    expect(Date.parse(held.expires_at)).toBeGreaterThan(Date.now() + 50_000);
  });

  test("accepts and ignores ticket_type_id, as the original's clients send it", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const token = await join(env, "u3", type);
    const res = await env.call("GET", `/reservation/status?token=${token}&ticket_type_id=banana`);
    expect(res.body).toMatchObject({ status: "queued", ticket_type_id: type });
  });

  test("confirmed, released, expired, sold_out and lost", async () => {
    const type = await env.ticketType({ capacity: 3, per_user_limit: 3 });
    const confirmed = await holdFor("s1", type);
    await post("/reservation/confirm", { token: confirmed });
    expect(await statusOf(env, confirmed)).toMatchObject({ status: "confirmed", booking_id: expect.any(Number) });

    const released = await holdFor("s2", type);
    await post("/reservation/release", { token: released });
    expect((await statusOf(env, released)).status).toBe("released");

    const expired = await holdFor("s3", type);
    await env.backdate(expired);
    expect((await statusOf(env, expired)).status).toBe("expired"); // past its deadline, before the cleaner
    await env.cleaner().expireNow();
    expect((await statusOf(env, expired)).status).toBe("expired");

    const tooMany = await join(env, "s4", type, 3); // 2 left, nothing held: can never be served
    await env.drain();
    expect((await statusOf(env, tooMany)).status).toBe("sold_out");

    const lost = await join(env, "s5", type);
    await env.s.redis.del(env.s.keys(type).record(env.s.tokens.verify(lost)!.id));
    expect(await statusOf(env, lost)).toMatchObject({ status: "lost", message: expect.stringContaining("join") });
  });

  test("404 for tampered or foreign tokens, 400 without one", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const token = await join(env, "u4", type);
    const tampered = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    for (const bad of [tampered, "nonsense", "A".repeat(48), "../../etc/passwd"]) {
      expectError(await env.call("GET", `/reservation/status?token=${encodeURIComponent(bad)}`), 404, "unknown_token");
    }
    expectError(await env.call("GET", "/reservation/status"), 400, "invalid_input");
  });
});

describe("POST /reservation/confirm", () => {
  test("turns a hold into a booking; a repeat returns the same booking", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const token = await holdFor("c1", type, 2);
    const first = await post("/reservation/confirm", { token });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "confirmed", quantity: 2, ticket_type_id: type });
    expect(first.body.booking_id).toBeGreaterThan(0);
    const again = await post("/reservation/confirm", { token });
    expect(again.body.booking_id).toBe(first.body.booking_id);
    const bookings = await env.sql`SELECT quantity FROM bookings WHERE token = ${token}`;
    expect([...bookings]).toEqual([{ quantity: 2 }]);
    expect(await stockOf(type)).toBe(8);
  });

  test("409 while still queued, 410 once expired, 409 once released, 404 forged, 400 malformed", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const queued = await join(env, "c2", type);
    expectError(await post("/reservation/confirm", { token: queued }), 409, "not_reserved");

    const expired = await holdFor("c3", type);
    await env.backdate(expired);
    expectError(await post("/reservation/confirm", { token: expired }), 410, "hold_expired");
    await env.cleaner().expireNow();
    expectError(await post("/reservation/confirm", { token: expired }), 410, "hold_expired");

    const released = await holdFor("c4", type);
    await post("/reservation/release", { token: released });
    expectError(await post("/reservation/confirm", { token: released }), 409, "released");

    expectError(await post("/reservation/confirm", { token: "A".repeat(48) }), 404, "unknown_token");
    expectError(await post("/reservation/confirm", {}), 400, "invalid_input");
    expectError(await post("/reservation/confirm", { token: 12 }), 400, "invalid_input");
    expect(await env.sql`SELECT 1 FROM bookings WHERE ticket_type_id = ${type}`).toHaveLength(0);
  });

  test("409 for a token that was told it is sold out, 410 for a lost place", async () => {
    const type = await env.ticketType({ capacity: 2 });
    await post("/reservation/confirm", { token: await holdFor("c4b", type) });
    const soldOut = await join(env, "c5", type, 2); // 1 left, nothing held: can never be served
    await env.drain();
    expectError(await post("/reservation/confirm", { token: soldOut }), 409, "sold_out");
    const lost = await join(env, "c6", type);
    await env.s.redis.del(env.s.keys(type).record(env.s.tokens.verify(lost)!.id));
    expectError(await post("/reservation/confirm", { token: lost }), 410, "place_lost");
  });
});

describe("POST /reservation/release", () => {
  test("gives a hold back: stock returns at once, exactly once", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const token = await holdFor("r1", type, 3);
    expect(await stockOf(type)).toBe(2);
    const res = await post("/reservation/release", { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "released", ticket_type_id: type });
    expect(await stockOf(type)).toBe(5);
    expect((await post("/reservation/release", { token })).status).toBe(200);
    expect(await stockOf(type)).toBe(5);
    // the user may join again
    const again = await join(env, "r1", type);
    expect(again).not.toBe(token);
  });

  test("leaves the queue: the processor skips the place", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const leaving = await join(env, "r2", type);
    const staying = await join(env, "r3", type);
    const res = await post("/reservation/release", { token: leaving });
    expect(res.body.status).toBe("released");
    await env.drain();
    expect((await statusOf(env, leaving)).status).toBe("released");
    expect((await statusOf(env, staying)).status).toBe("reserved");
    expect(await env.sql`SELECT 1 FROM reservations WHERE ticket_type_id = ${type}`).toHaveLength(1);
  });

  test("409 for a confirmed booking, 410 for an expired hold, 404 forged", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const confirmed = await holdFor("r4", type);
    await post("/reservation/confirm", { token: confirmed });
    expectError(await post("/reservation/release", { token: confirmed }), 409, "already_confirmed");
    const expired = await holdFor("r5", type);
    await env.backdate(expired);
    await env.cleaner().expireNow();
    expectError(await post("/reservation/release", { token: expired }), 410, "hold_expired");
    expectError(await post("/reservation/release", { token: "B".repeat(48) }), 404, "unknown_token");
    expect(await stockOf(type)).toBe(4);
  });
});

test("unknown routes are JSON 404s; a known route asked with another method is a 405 with Allow", async () => {
  expectError(await env.call("GET", "/nope"), 404, "not_found");
  expectError(await env.call("DELETE", "/nope"), 404, "not_found");
  expectError(await env.call("GET", "/queue/join/more"), 404, "not_found");
  const cases: [string, string, string][] = [
    ["DELETE", "/events", "GET"],
    ["POST", "/events", "GET"],
    ["GET", "/queue/join", "POST"],
    ["PUT", "/queue/join", "POST"],
    ["POST", "/reservation/status?token=x", "GET"],
    ["GET", "/reservation/confirm", "POST"],
    ["PATCH", "/health", "GET"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await env.call(method, path);
    expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe(allow);
  }
});

describe("bodies by content type", () => {
  // with its declared length, as a client over the network sends it (only then may Elysia's
  // own parser read it): a Request made in-process declares none by itself
  const raw = (body: string, contentType?: string, init: RequestInit = {}) => {
    const headers: Record<string, string> = init.body ? {} : { "content-length": String(Buffer.byteLength(body)) };
    if (contentType !== undefined) headers["content-type"] = contentType;
    return env.app.handle(new Request("http://localhost/queue/join", { method: "POST", body, headers, ...init }));
  };

  test("JSON is read whatever the content type says (Elysia's parser takes only exact application/json)", async () => {
    const type = await env.ticketType({ capacity: 100 });
    const types = [
      "application/json",
      "application/json;charset=utf-8",
      "application/json; charset=utf-8",
      "application/json ; charset=utf-8",
      "application/json ",
      "Application/JSON",
      "application/merge-patch+json",
      "application/jsonx",
      "text/plain",
      "text/plain;charset=utf-8",
      "application/x-www-form-urlencoded",
      "application/octet-stream",
      "multipart/form-data",
      undefined,
    ];
    for (const [i, contentType] of types.entries()) {
      const res = await raw(JSON.stringify({ user_id: `ct${i}`, ticket_type_id: type }), contentType);
      const body = await res.json();
      expect([contentType, res.status, body.error]).toEqual([contentType, 200, undefined]);
    }
    // and a chunked one, of no declared length
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(JSON.stringify({ user_id: "chunked", ticket_type_id: type })));
        c.close();
      },
    });
    expect((await raw("", "application/json", { body: stream })).status).toBe(200);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(types.length + 1);
  });

  test("not JSON is a 400 whatever the content type", async () => {
    for (const contentType of ["application/json", "application/json ; charset=utf-8", "text/plain", undefined]) {
      const res = await raw("{nope", contentType);
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe("invalid_json");
    }
  });
});

describe("validation messages", () => {
  test("name the field and what it takes", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const cases: [unknown, string][] = [
      [{ user_id: { a: 1 }, ticket_type_id: type }, "user_id: expected a non-empty string (at most 128 characters, no control characters) or a whole number"],
      [{ user_id: "a\u0000", ticket_type_id: type }, "user_id: expected a non-empty string"],
      [{ ticket_type_id: type }, "user_id: expected a non-empty string"],
      [{ user_id: "x" }, "ticket_type_id: expected a whole number from 1 to 2147483647"],
      [{ user_id: "x", ticket_type_id: "5" }, "ticket_type_id: expected a whole number from 1 to 2147483647"],
      [{ user_id: "x", ticket_type_id: type, quantity: 0 }, "quantity: expected a whole number from 1 to 1000"],
      [{ user_id: "x", ticket_type_id: type, quantity: "2" }, "quantity: expected a whole number from 1 to 1000"],
      ["null", "body: expected a JSON object {user_id, ticket_type_id, quantity?}"],
      // (Elysia hands other non-objects, "a string" or [], to validation as {}: a missing field)
      ["[]", "ticket_type_id: expected a whole number"],
    ];
    for (const [body, message] of cases) {
      const res = await post("/queue/join", body);
      expectError(res, 400, "invalid_input");
      expect(res.body.message.slice(0, message.length)).toBe(message);
    }
    const confirm = await post("/reservation/confirm", { token: 12 });
    expect(confirm.body.message).toBe("token: expected the queue_token string given on joining");
    const status = await env.call("GET", "/reservation/status");
    expect(status.body.message).toBe("token: expected the queue_token string given on joining");
  });

  test("never echo what the client sent", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const marker = "ECHO-ME-<script>";
    const bodies: unknown[] = [
      { user_id: { [marker]: marker.repeat(1000) }, ticket_type_id: type },
      { user_id: marker.repeat(200), ticket_type_id: type },
      { user_id: `${marker}\u0000`, ticket_type_id: type },
      { user_id: "x", ticket_type_id: marker },
      { user_id: "x", ticket_type_id: type, quantity: [marker] },
      { user_id: "x", ticket_type_id: type, quantity: 0, [marker]: marker },
      [marker],
      `"${marker}"`,
      `{"${marker}": 1}`,
      `{"user_id": "${marker}", "ticket_type_id": ${type}, "quantity": 1e400}`,
    ];
    for (const body of bodies) {
      const res = await post("/queue/join", body);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain("ECHO-ME");
      expect(res.body.message).not.toContain("[object Object]");
      expect(res.body.message.length).toBeLessThan(200);
    }
    const res = await post("/reservation/confirm", { token: { [marker]: 1 } });
    expect(JSON.stringify(res.body)).not.toContain("ECHO-ME");
  });
});

test("after all of the above, every invariant holds", async () => {
  await env.expectInvariants();
});

test("a client of the original service works unchanged", async () => {
  // The original's routes and field names only: numeric ids, ticket_type_id sent along with
  // the token everywhere, the token read from queue_token.
  const type = await env.ticketType({ capacity: 3 });
  // the event list is refreshed in the background once it is half its maximum age old
  const listsType = (body: any) => body.some((e: any) => e.ticket_types.some((t: any) => t.id === type));
  await waitFor("the event list to show the new type", async () => listsType((await env.call("GET", "/events")).body), 5_000);
  const events = await env.call("GET", "/events");
  expect(listsType(events.body)).toBe(true);
  const joined = await post("/queue/join", { user_id: 1001, ticket_type_id: type });
  expect(joined.status).toBe(200);
  const token = joined.body.queue_token;
  await env.drain();
  const status = await env.call("GET", `/reservation/status?token=${token}&ticket_type_id=${type}`);
  expect(status.body.status).toBe("reserved");
  const confirmed = await post("/reservation/confirm", { token, ticket_type_id: type });
  expect(confirmed.status).toBe(200);
  expect((await env.call("GET", `/reservation/status?token=${token}&ticket_type_id=${type}`)).body.status).toBe("confirmed");
});
