// The operator's read-only routes: a ticket type's live figures and an event's bookings export.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { text } from "../src/admin/bookings";
import { createTestEnv, join, type TestEnv, ADMIN_AUTH, ADMIN_TOKEN } from "./helpers";


let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
});
afterAll(async () => {
  await env?.close();
});

const admin = (path: string) => env.call("GET", path, undefined, ADMIN_AUTH);

/** A tiny RFC 4180 reader: quoted fields, doubled quotes, CRLF (or LF) line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === "\r") i++;
      row.push(field), rows.push(row), (row = []), (field = "");
    } else field += c;
  }
  if (field !== "" || row.length > 0) row.push(field), rows.push(row);
  return rows;
}

describe("admin guard", () => {
  test("both routes answer 401 without the token, or with a wrong one", async () => {
    const type = await env.ticketType({ capacity: 1 });
    for (const path of [`/admin/ticket-types/${type}`, `/admin/events/1/bookings`]) {
      const none = await env.call("GET", path);
      expect(none.status).toBe(401);
      expect(none.body.error).toBe("unauthorized");
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="admin"');
      const wrong = await env.call("GET", path, undefined, { authorization: "Bearer not-the-token" });
      expect(wrong.status).toBe(401);
    }
    // even a malformed id: the token is checked before anything else
    expect((await env.call("GET", "/admin/ticket-types/abc")).status).toBe(401);
  });
});

describe("GET /admin/ticket-types/:id", () => {
  test("after joins, serving, confirm, release and expiry the figures are PostgreSQL's and Redis's exactly", async () => {
    const type = await env.ticketType({ capacity: 20, name: "Balcony" });
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) tokens.push(await join(env, `fig-${i}`, type, 2));
    await env.drain();
    // holds: 0..5; confirm 0 and 1, release 2, let 3 lapse; 4 and 5 stay held
    for (const t of tokens.slice(0, 2)) expect((await env.post("/reservation/confirm", { token: t })).status).toBe(200);
    expect((await env.post("/reservation/release", { token: tokens[2] })).status).toBe(200);
    await env.backdate(tokens[3]!);
    expect(await env.cleaner().expireNow()).toBe(1);
    // three more wait unserved (no drain); the first of them gives the place back
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) waiting.push(await join(env, `wait-${i}`, type, 1));
    expect((await env.post("/reservation/release", { token: waiting[0] })).status).toBe(200);

    const res = await admin(`/admin/ticket-types/${type}`);
    expect(res.status).toBe(200);

    const counts = Object.fromEntries(
      (await env.sql<{ status: string; n: number }[]>`
        SELECT status, sum(quantity)::int AS n FROM reservations WHERE ticket_type_id = ${type} GROUP BY status`).map((r) => [r.status, r.n]),
    );
    const [row] = await env.sql`SELECT event_id, capacity, stock FROM ticket_types WHERE id = ${type}`;
    const [deadline] = await env.sql`SELECT min(expires_at) AS at FROM reservations WHERE ticket_type_id = ${type} AND status = 'held'`;
    const k = env.s.keys(type);
    const rate = await env.s.redis.hget(k.meta, "rate");
    expect(counts).toEqual({ held: 4, confirmed: 4, released: 2, expired: 2 });
    expect(res.body).toEqual({
      id: type,
      event_id: row!.event_id,
      name: "Balcony",
      capacity: 20,
      stock: row!.stock,
      paused: false,
      max_active_holds: null,
      holds_per_minute: null,
      held: counts.held,
      confirmed: counts.confirmed,
      expired: counts.expired,
      released: counts.released,
      people_queued: await env.s.redis.llen(k.queue), // the one who left is still an entry
      people_prequeued: 0,
      batches_in_flight: 0,
      serving_rate: rate ? Number(rate) : null,
      // the head entry gave its place back: the oldest waiting place is the next one's
      oldest_waiting_place: Number(await env.s.redis.hget(k.record(env.s.tokens.verify(waiting[1]!)!.id), "place")),
      next_hold_deadline: deadline!.at.toISOString(),
      redis: "ok",
    });
    expect(res.body.stock).toBe(20 - 4 - 4);
    expect(res.body.people_queued).toBe(3);
    expect(res.body.oldest_waiting_place).toBe(8);
    await env.expectInvariants();
  });

  test("a type nobody joined: zeros and nulls", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const res = await admin(`/admin/ticket-types/${type}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      capacity: 5, stock: 5, held: 0, confirmed: 0, expired: 0, released: 0,
      people_queued: 0, people_prequeued: 0, batches_in_flight: 0, serving_rate: null, oldest_waiting_place: null, next_hold_deadline: null,
    });
  });

  test("the sale controls show as the operator set them", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const set = await env.call("PATCH", `/admin/ticket-types/${type}`, { paused: true, max_active_holds: 50, holds_per_minute: 600 }, ADMIN_AUTH);
    expect(set.status).toBe(200);
    expect((await admin(`/admin/ticket-types/${type}`)).body).toMatchObject({
      capacity: 5, stock: 5, paused: true, max_active_holds: 50, holds_per_minute: 600,
    });
    await env.call("PATCH", `/admin/ticket-types/${type}`, { paused: false, max_active_holds: null }, ADMIN_AUTH);
    expect((await admin(`/admin/ticket-types/${type}`)).body).toMatchObject({ paused: false, max_active_holds: null, holds_per_minute: 600 });
  });

  test("people waiting in a sale's pre-queue are counted apart from the queue", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const soon = new Date(Date.now() + 60_000).toISOString();
    await env.call("PATCH", `/admin/ticket-types/${type}`, { sale_starts_at: soon }, ADMIN_AUTH);
    for (const user of ["pq1", "pq2", "pq3"]) await join(env, user, type);
    expect((await admin(`/admin/ticket-types/${type}`)).body).toMatchObject({ people_queued: 0, people_prequeued: 3 });
  });

  test("an unknown id is 404, a malformed one 400", async () => {
    for (const id of ["999999", "2147483647", "3000000000"]) {
      const res = await admin(`/admin/ticket-types/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("unknown_ticket_type");
    }
    for (const id of ["abc", "1.5", "0", "-1", "01", "1e3", "99999999999"]) {
      const res = await admin(`/admin/ticket-types/${id}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: "invalid_input", message: "id: expected a whole number from 1 to 2147483647", request_id: expect.any(String) });
    }
  });
});

describe("GET /admin/events/:id/bookings", () => {
  let eventId: number;
  let otherType: number;
  const ODD_USERS = ['comma,and "quote"', "=HYPERLINK(\"http://x\")", "+1", "-2", "@sum", "plain",
    // a spreadsheet skips spaces and invisible characters before a formula: a space, NBSP, zero-width space, BOM
    " =1+1", "\u00a0+1", "\u200b-1", "\ufeff@sum", " spaced"];

  beforeAll(async () => {
    // two types in one event, a third in another event; 2,500 bookings of the event, interleaved
    // with 500 of the other, straight into the tables (the serving path has its own tests)
    const first = await env.ticketType({ capacity: 10_000, name: "Floor" });
    [{ event_id: eventId }] = await env.sql`SELECT event_id FROM ticket_types WHERE id = ${first}`;
    const [second] = await env.sql`
      INSERT INTO ticket_types (event_id, name, price, capacity, stock) VALUES (${eventId}, ${"=cmd|' /C calc'!A0"}, 10, 10000, 10000) RETURNING id`;
    otherType = await env.ticketType({ capacity: 10_000, name: "Elsewhere" });
    await env.sql`
      INSERT INTO reservations (token, ticket_type_id, user_id, quantity, status, expires_at)
      SELECT 'tok-' || n,
             CASE WHEN n % 6 = 0 THEN ${otherType}::int WHEN n % 2 = 0 THEN ${second!.id}::int ELSE ${first}::int END,
             CASE WHEN n <= ${ODD_USERS.length} THEN (${ODD_USERS}::text[])[n] ELSE 'user-' || n END,
             1 + n % 3, 'confirmed', now()
      FROM generate_series(1, 3000) n`;
    await env.sql`
      INSERT INTO bookings (token, user_id, ticket_type_id, quantity)
      SELECT token, user_id, ticket_type_id, quantity FROM reservations WHERE token LIKE 'tok-%'
      ORDER BY substr(token, 5)::int`;
  });

  const expected = async () =>
    env.sql<{ id: number; booking_ref: string; user_id: string; ticket_type_id: number; name: string; quantity: number; created_at: Date }[]>`
      SELECT b.id, b.booking_ref, b.user_id, b.ticket_type_id, t.name, b.quantity, b.created_at
      FROM bookings b JOIN ticket_types t ON t.id = b.ticket_type_id
      WHERE t.event_id = ${eventId} ORDER BY b.id`;

  test("JSON pages through 2,500 bookings in 3 pages, none missing, none twice", async () => {
    const all = await expected();
    expect(all.length).toBe(2500);
    const seen: any[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await admin(`/admin/events/${eventId}/bookings${cursor ? `?cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      pages.push(res.body.bookings.length);
      seen.push(...res.body.bookings);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(pages).toEqual([1000, 1000, 500]);
    expect(seen).toEqual(
      all.map((b) => ({
        booking_id: b.id, booking_ref: b.booking_ref, order_ref: null, user_id: b.user_id, ticket_type_id: b.ticket_type_id,
        ticket_type_name: b.name, quantity: b.quantity, amount: null, currency: null, status: "confirmed",
        created_at: b.created_at.toISOString(), cancelled_at: null,
      })),
    );
    expect(seen.some((b) => b.ticket_type_id === otherType)).toBe(false);
  });

  test("CSV: headers, exact quoting, formula guard, and a Link to the next page", async () => {
    const all = await expected();
    const rows: string[][] = [];
    let path: string | null = `/admin/events/${eventId}/bookings?format=csv&limit=1000`;
    let pages = 0;
    while (path) {
      const res = await admin(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="event-${eventId}-bookings.csv"`);
      const text = res.body as string;
      expect(text.endsWith("\r\n")).toBe(true);
      const [header, ...body] = parseCsv(text);
      expect(header).toEqual([
        "booking_id", "booking_ref", "order_ref", "user_id", "ticket_type_id", "ticket_type_name", "quantity", "amount", "currency", "status",
        "created_at", "cancelled_at",
      ]);
      rows.push(...body);
      const link = res.headers.get("link");
      path = link ? link.match(/^<([^>]+)>; rel="next"$/)![1]! : null;
      if (link) expect(path).toContain(`cursor=${res.headers.get("x-next-cursor")}`);
      pages++;
    }
    expect(pages).toBe(3);
    const guard = (v: string) => (/^[\s\u200b]*[=+\-@]/.test(v) ? `'${v}` : v);
    expect(rows).toEqual(
      all.map((b) => [
        String(b.id), b.booking_ref, "", guard(b.user_id), String(b.ticket_type_id), guard(b.name), String(b.quantity), "", "", "confirmed",
        b.created_at.toISOString(), "",
      ]),
    );
    // the odd ones, as text: every text cell quoted, quotes doubled, formulas defused
    const first = (await admin(`/admin/events/${eventId}/bookings?format=csv&limit=5`)).body as string;
    const lines = first.split("\r\n");
    expect(lines[1]).toStartWith(`${all[0]!.id},"${all[0]!.booking_ref}",,"comma,and ""quote""",`);
    const texts = rows.map((r) => r[3]);
    expect(texts).toContain(`'=HYPERLINK("http://x")`);
    expect(texts).toContain("'-2");
    expect(texts).toContain("'@sum");
    expect(first).toContain(`"'=cmd|' /C calc'!A0"`);
    for (const hidden of [" =1+1", "\u00a0+1", "\u200b-1", "\ufeff@sum"]) expect(texts).toContain(`'${hidden}`);
    expect(texts).toContain(" spaced"); // no formula after the space: left alone
  });

  test("the formula guard looks past any leading whitespace, format or control characters", () => {
    for (const hidden of ["\t=1", "\r=1", "\n=1", "\u2028=1", "\u3000=1", "\u2060=1", "\u202e=1", "\u200e+1", " \u00a0\u200b\ufeff=1"]) {
      expect(text(hidden)).toBe(`"'${hidden}"`);
    }
    for (const fine of ["a=1", " a", "\u200b", "1-2", "é=1"]) expect(text(fine)).toBe(`"${fine}"`);
  });

  test("limit: default 1000, at most 10,000", async () => {
    expect((await admin(`/admin/events/${eventId}/bookings?limit=10000`)).body.bookings.length).toBe(2500);
    expect((await admin(`/admin/events/${eventId}/bookings?limit=2`)).body.bookings.length).toBe(2);
    for (const limit of ["0", "10001", "-1", "abc", "1.5"]) {
      const res = await admin(`/admin/events/${eventId}/bookings?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("limit: expected a whole number from 1 to 10000");
    }
  });

  test("a forged or foreign cursor is 400; a bad format 400; an unknown event 404", async () => {
    const foreign = Buffer.from(`${eventId + 1}:5`).toString("base64url");
    const forged = ["abc", "!!!", Buffer.from("5").toString("base64url"), Buffer.from(`${eventId}:0`).toString("base64url"),
      Buffer.from(`${eventId}:05`).toString("base64url"), Buffer.from(`${eventId}:1`).toString("base64url") + "=", foreign];
    for (const c of forged) {
      const res = await admin(`/admin/events/${eventId}/bookings?cursor=${encodeURIComponent(c)}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_cursor");
    }
    for (const format of ["xml", "CSV", ""]) {
      const res = await admin(`/admin/events/${eventId}/bookings?format=${format}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("format: expected csv or json");
    }
    for (const id of ["999999", "3000000000"]) {
      const res = await admin(`/admin/events/${id}/bookings`);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("unknown_event");
    }
    expect((await admin(`/admin/events/abc/bookings`)).status).toBe(400);
    // an event with no bookings: an empty page, and a CSV of the header alone
    const empty = await env.ticketType({ capacity: 1 });
    const [{ event_id }] = await env.sql`SELECT event_id FROM ticket_types WHERE id = ${empty}`;
    expect((await admin(`/admin/events/${event_id}/bookings`)).body).toEqual({ bookings: [], next_cursor: null });
    const csv = await admin(`/admin/events/${event_id}/bookings?format=csv`);
    expect(csv.body).toBe("booking_id,booking_ref,order_ref,user_id,ticket_type_id,ticket_type_name,quantity,amount,currency,status,created_at,cancelled_at\r\n");
    expect(csv.headers.get("link")).toBeNull();
  });
});

describe("without ADMIN_TOKEN configured", () => {
  test("both routes are off: 403 admin_disabled, whatever is sent", async () => {
    const off = await createTestEnv();
    try {
      for (const path of ["/admin/ticket-types/1", "/admin/events/1/bookings?format=csv"]) {
        const res = await off.call("GET", path, undefined, ADMIN_AUTH);
        expect(res.status).toBe(403);
        expect(res.body.error).toBe("admin_disabled");
      }
    } finally {
      await off.close();
    }
  });
});

describe("while Redis is down", () => {
  test("the figures answer PostgreSQL's, the Redis ones null", async () => {
    const down = await createTestEnv({ ADMIN_TOKEN });
    try {
      const type = await down.ticketType({ capacity: 7 });
      down.s.redis.disconnect();
      const res = await down.call("GET", `/admin/ticket-types/${type}`, undefined, ADMIN_AUTH);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        capacity: 7, stock: 7, held: 0, confirmed: 0, expired: 0, released: 0,
        people_queued: null, people_prequeued: null, batches_in_flight: null, serving_rate: null, oldest_waiting_place: null, redis: "unavailable",
      });
    } finally {
      await down.close();
    }
  });
});
