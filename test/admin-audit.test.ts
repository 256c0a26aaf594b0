// The admin audit log, against real PostgreSQL and Redis: each admin change leaves one row in
// admin_audit (written in the change's own transaction) and one info log line, with the old and
// new values, the request id and the client, never the token; a refused change leaves neither.
// GET /admin/audit pages through the rows newest first.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import type { Fields, Level, Logger } from "../src/core/log";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, join, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
});
afterAll(() => env.close());

type Line = { level: Level; message: string; fields?: Fields };

/** An app logging into `lines`, behind one trusted proxy (so the client is X-Forwarded-For's last hop). */
function loggingApp() {
  const lines: Line[] = [];
  const at = (level: Level) => (message: string, fields?: Fields) => void lines.push({ level, message, fields });
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  const app = createApp({ ...env.s, log, config: { ...env.config, TRUST_PROXY: 1 } });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { "content-type": "application/json", ...ADMIN_AUTH, ...headers } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await app.handle(new Request(`http://test/admin${path}`, init));
    return { status: res.status, body: (await res.json()) as any };
  };
  return { call, lines, changes: () => lines.filter((l) => l.message === "admin change") };
}

const admin = (method: string, path: string, body?: unknown) => env.call(method, `/admin${path}`, body, ADMIN_AUTH);
const auditPage = async (query = "") => {
  const res = await admin("GET", `/audit${query}`);
  expect(res.status).toBe(200);
  return res.body as { entries: any[]; next_cursor: string | null };
};
const rowsFor = async (type: string, id: number) => [
  ...await env.sql`SELECT route, changes, request_id, client FROM admin_audit WHERE target_type = ${type} AND target_id = ${id} ORDER BY id`,
];

describe("what a change records", () => {
  test("a capacity change and a pause: a row each with old and new, a log line each, newest first", async () => {
    const { call, changes } = loggingApp();
    const type = await env.ticketType({ capacity: 10 });
    const from = { "x-forwarded-for": "198.51.100.1, 203.0.113.7" };
    const raised = await call("PATCH", `/ticket-types/${type}`, { capacity: 12 }, { ...from, "x-request-id": "cap-1" });
    expect(raised.status).toBe(200);
    const paused = await call("PATCH", `/ticket-types/${type}`, { paused: true, name: "Floor" }, { ...from, "x-request-id": "pause-1" });
    expect(paused.status).toBe(200);

    // only the fields that changed: name was "Floor" already
    const capacity = { capacity: { old: 10, new: 12 } };
    const pause = { paused: { old: false, new: true } };
    const route = "PATCH /admin/ticket-types/:id";
    expect(await rowsFor("ticket_type", type)).toEqual([
      { route, changes: capacity, request_id: "cap-1", client: "203.0.113.7" },
      { route, changes: pause, request_id: "pause-1", client: "203.0.113.7" },
    ]);
    const [newest, before] = (await auditPage("?limit=2")).entries;
    expect(newest).toEqual({
      id: expect.any(Number), at: expect.any(String), actor: "admin", route, target: { type: "ticket_type", id: type },
      changes: pause, request_id: "pause-1", client: "203.0.113.7",
    });
    expect(before).toMatchObject({ id: newest.id - 1, changes: capacity, request_id: "cap-1" });
    expect(Date.now() - Date.parse(newest.at)).toBeLessThan(60_000);

    expect(changes()).toEqual([
      {
        level: "info", message: "admin change", fields: {
          actor: "admin", route, target_type: "ticket_type", target_id: type, changes: capacity, request_id: "cap-1", client: "203.0.113.7", audit_id: before.id,
        },
      },
      {
        level: "info", message: "admin change", fields: {
          actor: "admin", route, target_type: "ticket_type", target_id: type, changes: pause, request_id: "pause-1", client: "203.0.113.7", audit_id: newest.id,
        },
      },
    ]);
  });

  test("the log lines never carry the token nor the Authorization header", async () => {
    const { call, lines } = loggingApp();
    const event = await call("POST", "/events", { name: "Tokenless" });
    await call("PATCH", `/events/${event.body.id}`, { venue: "Hall" });
    expect(lines.length).toBeGreaterThan(0);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text.toLowerCase()).not.toContain("authorization");
    expect(text.toLowerCase()).not.toContain("bearer");
  });

  test("creations record every field set, old null, with the request's id and client", async () => {
    const { call, changes } = loggingApp();
    const event = await call("POST", "/events", { name: "Gala", starts_at: "2027-04-10T19:30:00+02:00" }, { "x-request-id": "new-event" });
    expect(event.status).toBe(201);
    expect(await rowsFor("event", event.body.id)).toEqual([{
      route: "POST /admin/events",
      changes: {
        name: { old: null, new: "Gala" }, description: { old: null, new: "" }, venue: { old: null, new: "" },
        starts_at: { old: null, new: "2027-04-10T17:30:00.000Z" }, currency: { old: null, new: "EUR" },
      },
      request_id: "new-event",
      client: "unknown", // app.handle() has no socket, and no X-Forwarded-For was sent
    }]);
    const type = await call("POST", `/events/${event.body.id}/ticket-types`, { name: "Stalls", price: 59.5, capacity: 30 });
    expect(type.status).toBe(201);
    const [row] = await rowsFor("ticket_type", type.body.id);
    expect(row!.route).toBe("POST /admin/events/:id/ticket-types");
    expect(row!.changes).toEqual({
      event_id: { old: null, new: event.body.id }, name: { old: null, new: "Stalls" }, price: { old: null, new: 59.5 },
      capacity: { old: null, new: 30 }, stock: { old: null, new: 30 }, per_user_limit: { old: null, new: 4 },
      sale_starts_at: { old: null, new: null }, paused: { old: null, new: false },
      max_active_holds: { old: null, new: null }, holds_per_minute: { old: null, new: null }, hold_seconds: { old: null, new: null },
    });
    expect(changes().map((l) => [l.fields!.route, l.fields!.target_id])).toEqual([
      ["POST /admin/events", event.body.id], ["POST /admin/events/:id/ticket-types", type.body.id],
    ]);
  });

  test("an event change records the old values it replaced", async () => {
    const event = (await admin("POST", "/events", { name: "Old name", venue: "Hall" })).body;
    expect((await admin("PATCH", `/events/${event.id}`, { name: "New name", venue: "Hall", starts_at: "2027-01-01T20:00:00Z" })).status).toBe(200);
    const rows = await rowsFor("event", event.id);
    expect(rows.map((r) => [r.route, r.changes])).toEqual([
      ["POST /admin/events", expect.any(Object)],
      ["PATCH /admin/events/:id", { name: { old: "Old name", new: "New name" }, starts_at: { old: null, new: "2027-01-01T20:00:00.000Z" } }],
    ]);
  });

  test("a PATCH that changes no value is still recorded, with no changes", async () => {
    const { call, changes } = loggingApp();
    const type = await env.ticketType({ capacity: 5 });
    expect((await call("PATCH", `/ticket-types/${type}`, { capacity: 5, paused: false }, { "x-request-id": "same" })).status).toBe(200);
    expect(await rowsFor("ticket_type", type)).toEqual([
      { route: "PATCH /admin/ticket-types/:id", changes: {}, request_id: "same", client: "unknown" },
    ]);
    expect(changes().map((l) => l.fields!.changes)).toEqual([{}]);
  });

  test("a refused change (409 capacity_below_sold, 404, 400) records nothing and logs no change", async () => {
    const { call, changes } = loggingApp();
    const type = await env.ticketType({ capacity: 3 });
    await join(env, "holder", type, 2);
    await env.drain();
    const count = async () => (await env.sql`SELECT count(*)::int AS n FROM admin_audit`)[0]!.n;
    const before = await count();
    const refused = await call("PATCH", `/ticket-types/${type}`, { capacity: 1, paused: true });
    expect([refused.status, refused.body.error]).toEqual([409, "capacity_below_sold"]);
    expect((await call("PATCH", "/ticket-types/999999", { paused: true })).status).toBe(404);
    expect((await call("PATCH", "/events/999999", { name: "x" })).status).toBe(404);
    expect((await call("POST", "/events/999999/ticket-types", { name: "x", price: 1, capacity: 1 })).status).toBe(404);
    expect((await call("POST", "/events", { name: "  " })).status).toBe(400);
    expect(await count()).toBe(before);
    expect(changes()).toEqual([]);
    expect((await env.sql`SELECT capacity, paused FROM ticket_types WHERE id = ${type}`)[0]).toEqual({ capacity: 3, paused: false });
  });

  test("a change whose audit row cannot be written does not happen (one transaction)", async () => {
    const type = await env.ticketType({ capacity: 5 });
    await env.sql.unsafe(`
      CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
      CREATE TRIGGER refuse_audit BEFORE INSERT ON admin_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit();`);
    try {
      const { call, changes } = loggingApp();
      expect((await call("PATCH", `/ticket-types/${type}`, { capacity: 9 })).status).toBe(500);
      expect((await call("POST", "/events", { name: "Never" })).status).toBe(500);
      expect(changes()).toEqual([]);
    } finally {
      await env.sql.unsafe("DROP TRIGGER refuse_audit ON admin_audit; DROP FUNCTION refuse_audit();");
    }
    expect(await env.stockOf(type)).toBe(5);
    expect((await env.sql`SELECT capacity FROM ticket_types WHERE id = ${type}`)[0]!.capacity).toBe(5);
    expect((await env.sql`SELECT count(*)::int AS n FROM events WHERE name = 'Never'`)[0]!.n).toBe(0);
  });
});

describe("the shop's cancels", () => {
  test("are recorded with the shop as actor, named by its key's fingerprint (never the key); the operator's as admin", async () => {
    const keys = ["audit-shop-key-one-".padEnd(40, "1"), "audit-shop-key-two-".padEnd(40, "2")];
    const lines: Line[] = [];
    const at = (level: Level) => (message: string, fields?: Fields) => void lines.push({ level, message, fields });
    const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    const app = createApp({ ...env.s, log, config: { ...env.config, SHOP_API_KEYS: keys.join(","), TRUST_PROXY: 1 } });
    const post = async (path: string, body: unknown, headers: Record<string, string>) =>
      (await app.handle(new Request(`http://test${path}`, {
        method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.20", ...headers }, body: JSON.stringify(body),
      }))).status;
    const type = await env.ticketType({ capacity: 5 });
    const tokens = [await join(env, "shop-audit-1", type), await join(env, "shop-audit-2", type)];
    await env.drain();
    const ids = [];
    for (const token of tokens) {
      expect(await env.post("/reservation/confirm", { token }).then((r) => r.status)).toBe(200);
      ids.push((await env.sql`SELECT id FROM bookings WHERE token = ${token}`)[0]!.id as number);
    }
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    expect(await post(`/shop/bookings/${ids[0]}/cancel`, { reason: "refund" }, { ...bearer(keys[0]!), "x-request-id": "shop-1" })).toBe(200);
    expect(await post(`/shop/bookings/${ids[0]}/cancel`, {}, { ...bearer(keys[1]!), "x-request-id": "shop-2" })).toBe(200); // again: no change
    expect(await post(`/admin/bookings/${ids[1]}/cancel`, {}, { ...ADMIN_AUTH, "x-request-id": "op-1" })).toBe(200);
    expect(await post("/shop/bookings/999999/cancel", {}, bearer(keys[0]!))).toBe(404); // refused: not recorded

    const fingerprint = (key: string) => new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 8);
    const entries = (await auditPage("?limit=3")).entries.reverse();
    const shopRoute = "POST /shop/bookings/:id/cancel";
    expect(entries.map((e) => [e.actor, e.route, e.target, e.changes, e.request_id, e.client])).toEqual([
      [`shop:${fingerprint(keys[0]!)}`, shopRoute, { type: "booking", id: ids[0] },
        { status: { old: "confirmed", new: "cancelled" }, cancel_reason: { old: null, new: "refund" } }, "shop-1", "198.51.100.20"],
      [`shop:${fingerprint(keys[1]!)}`, shopRoute, { type: "booking", id: ids[0] }, {}, "shop-2", "198.51.100.20"],
      ["admin", "POST /admin/bookings/:id/cancel", { type: "booking", id: ids[1] }, { status: { old: "confirmed", new: "cancelled" } }, "op-1", "198.51.100.20"],
    ]);
    const logged = lines.filter((l) => l.message === "admin change").map((l) => [l.fields!.actor, l.fields!.route, l.fields!.audit_id]);
    expect(logged).toEqual(entries.map((e) => [e.actor, e.route, e.id]));
    // the keys appear nowhere: not in the rows, not in the log
    const stored = JSON.stringify(await env.sql`SELECT * FROM admin_audit`) + JSON.stringify(lines);
    for (const key of keys) expect(stored).not.toContain(key);
  });
});

describe("GET /admin/audit", () => {
  test("pages newest first; walking the cursors gives every entry exactly once", async () => {
    const type = await env.ticketType({ capacity: 100 });
    for (let capacity = 101; capacity <= 125; capacity++) {
      expect((await admin("PATCH", `/ticket-types/${type}`, { capacity })).status).toBe(200);
    }
    const all = (await env.sql`SELECT id FROM admin_audit ORDER BY id DESC`).map((r) => r.id as number);
    expect(all.length).toBeGreaterThanOrEqual(25);

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { entries: any[]; next_cursor: string | null } = await auditPage(`?limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(all); // newest first, none skipped or repeated
    expect(pages).toBe(Math.ceil(all.length / 4));

    // the capacity changes, newest first, each from the one before
    const mine = (await auditPage("?limit=10000")).entries.filter((e) => e.target.type === "ticket_type" && e.target.id === type);
    expect(mine.map((e) => e.changes.capacity)).toEqual(
      Array.from({ length: 25 }, (_, i) => ({ old: 124 - i, new: 125 - i })),
    );
    // the default page is the whole log here (fewer than 1000)
    expect((await auditPage()).entries.map((e) => e.id)).toEqual(all);
  });

  test("a bad limit or cursor is 400 and changes nothing; no token or a wrong one is 401", async () => {
    for (const limit of ["0", "10001", "-1", "abc", "1.5", ""]) {
      const res = await admin("GET", `/audit?limit=${limit}`);
      expect([res.status, res.body.error, res.body.message]).toEqual([400, "invalid_input", "limit: expected a whole number from 1 to 10000"]);
    }
    const forged = ["abc", "!!!", Buffer.from("5").toString("base64url"), Buffer.from("audit:0").toString("base64url"),
      Buffer.from("audit:05").toString("base64url"), Buffer.from("audit:1").toString("base64url") + "=",
      Buffer.from("1:5").toString("base64url"), "x".repeat(101)];
    for (const c of forged) {
      const res = await admin("GET", `/audit?cursor=${encodeURIComponent(c)}`);
      expect([res.status, res.body.error]).toEqual([400, c.length > 100 ? "invalid_input" : "invalid_cursor"]);
    }
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const res = await env.call("GET", "/admin/audit", undefined, headers);
      expect([res.status, res.body.error]).toEqual([401, "unauthorized"]);
    }
    // a cursor past the oldest entry: an empty last page
    const oldest = Buffer.from("audit:1").toString("base64url");
    expect(await auditPage(`?cursor=${oldest}`)).toEqual({ entries: [], next_cursor: null });
  });
});
