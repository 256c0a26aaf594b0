// The admin API for webhooks (issue #21), against real PostgreSQL and Redis: endpoints
// registered, read, changed, rotated and deleted (each audited, never with a secret), their
// deliveries listed and retried. The deliveries are real: the triggers of sql/0012 write them
// when an admin PATCH changes a ticket type. Refusals answer JSON with the right status and
// change nothing in PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { WebhookCreated } from "../src/api/schemas";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
});
afterAll(() => env.close());

const admin = (method: string, path: string, body?: unknown) => env.call(method, `/admin${path}`, body, ADMIN_AUTH);
const SECRET = /^whsec_[A-Za-z0-9+/]{32}$/;
const HOOK = { url: "https://shop.example.com/hooks", events: ["booking.confirmed"] };

async function register(body: Record<string, unknown> = HOOK) {
  const res = await admin("POST", "/webhooks", body);
  expect(res.status).toBe(201);
  return res.body as WebhookCreated;
}

/** Everything PostgreSQL holds of webhooks, to compare before and after a refusal. */
const snapshot = async () => ({
  endpoints: [...await env.sql`SELECT * FROM webhook_endpoints ORDER BY id`],
  deliveries: [...await env.sql`SELECT * FROM webhook_deliveries ORDER BY id`],
  audit: (await env.sql`SELECT count(*)::int AS n FROM admin_audit`)[0]!.n,
});

/** The refusal is JSON {error, message, request_id} with `status` and `code`. */
function expectRefusal(res: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers.get("content-type")).toStartWith("application/json");
  expect(typeof res.body.message).toBe("string");
}

describe("endpoints", () => {
  test("register, read, list, change, delete: the secret answered once", async () => {
    const created = await register({ url: "HTTPS://Shop.Example.com/hooks?x=1", events: ["booking.confirmed", "*", "booking.confirmed"], description: "box\noffice" });
    expect(created).toEqual({
      id: expect.any(Number), url: "https://shop.example.com/hooks?x=1", events: ["booking.confirmed", "*"], description: "box\noffice",
      enabled: true, secret: expect.stringMatching(SECRET), created_at: expect.any(String),
    });
    const [row] = await env.sql`SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${created.id}`;
    expect(row).toEqual({ secret: created.secret, previous_secret: null });

    const one = await admin("GET", `/webhooks/${created.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({
      id: created.id, url: created.url, events: created.events, description: "box\noffice", enabled: true,
      previous_secret_expires_at: null, created_at: created.created_at, updated_at: created.created_at,
    });
    const list = await admin("GET", "/webhooks");
    expect(list.status).toBe(200);
    expect(list.body.webhooks.map((w: any) => w.id)).toContain(created.id);
    for (const res of [one, list]) expect(JSON.stringify(res.body)).not.toContain("whsec_");

    await Bun.sleep(5);
    const changed = await admin("PATCH", `/webhooks/${created.id}`, {
      url: "http://10.0.0.7:8080/in", events: ["ticket_type.updated", "hold.granted"], enabled: false, description: "",
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ url: "http://10.0.0.7:8080/in", events: ["ticket_type.updated", "hold.granted"], enabled: false, description: "" });
    expect(Date.parse(changed.body.updated_at)).toBeGreaterThan(Date.parse(created.created_at));
    expect(JSON.stringify(changed.body)).not.toContain("whsec_");

    const deleted = await admin("DELETE", `/webhooks/${created.id}`);
    expect(deleted).toMatchObject({ status: 200, body: { id: created.id, deleted: true, deliveries_deleted: 0 } });
    expectRefusal(await admin("GET", `/webhooks/${created.id}`), 404, "unknown_webhook");
    expectRefusal(await admin("DELETE", `/webhooks/${created.id}`), 404, "unknown_webhook");
    expect(await env.sql`SELECT 1 FROM webhook_endpoints WHERE id = ${created.id}`).toHaveLength(0);
  });

  test("rotate: a new secret; the old one signs alongside for 24 hours", async () => {
    const created = await register();
    const rotated = await admin("POST", `/webhooks/${created.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ id: created.id, secret: expect.stringMatching(SECRET), previous_secret_expires_at: expect.any(String) });
    expect(rotated.body.secret).not.toBe(created.secret);
    const [row] = await env.sql`
      SELECT secret, previous_secret, extract(epoch FROM previous_secret_until - now())::float8 AS left_s, previous_secret_until
      FROM webhook_endpoints WHERE id = ${created.id}`;
    expect(row!.secret).toBe(rotated.body.secret);
    expect(row!.previous_secret).toBe(created.secret);
    expect(row!.left_s).toBeGreaterThan(24 * 3600 - 60);
    expect(row!.left_s).toBeLessThanOrEqual(24 * 3600);
    expect(rotated.body.previous_secret_expires_at).toBe(row!.previous_secret_until.toISOString());
    const read = await admin("GET", `/webhooks/${created.id}`);
    expect(read.body.previous_secret_expires_at).toBe(rotated.body.previous_secret_expires_at);
    expect(JSON.stringify(read.body)).not.toContain("whsec_");

    // rotated again: the first secret is gone, the second signs alongside
    const again = await admin("POST", `/webhooks/${created.id}/rotate-secret`);
    const [after] = await env.sql`SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${created.id}`;
    expect(after).toEqual({ secret: again.body.secret, previous_secret: rotated.body.secret });
  });

  test("a 2048-character url is taken, 2049 refused", async () => {
    const base = "https://example.com/";
    const created = await register({ url: base + "a".repeat(2048 - base.length), events: ["*"] });
    expect(created.url.length).toBe(2048);
    const before = await snapshot();
    expectRefusal(await admin("POST", "/webhooks", { url: base + "a".repeat(2049 - base.length), events: ["*"] }), 400, "invalid_input");
    // percent-encoding makes it longer than 2048: refused too
    expectRefusal(await admin("POST", "/webhooks", { url: base + "é".repeat(1000), events: ["*"] }), 400, "invalid_input");
    expect(await snapshot()).toEqual(before);
  });
});

describe("refusals change nothing", () => {
  test("bad bodies: 400 invalid_input (413 too large), JSON, PostgreSQL untouched", async () => {
    const existing = await register();
    const before = await snapshot();
    const bad: [unknown, number, string, string?][] = [
      [{ ...HOOK, url: 5 }, 400, "invalid_input", "url"],
      [{ ...HOOK, events: "booking.confirmed" }, 400, "invalid_input", "events"],
      [{ ...HOOK, events: ["booking.confirmed", "booking.refunded"] }, 400, "invalid_input", "events"],
      [{ ...HOOK, events: [] }, 400, "invalid_input", "events"],
      [{ ...HOOK, events: [1] }, 400, "invalid_input", "events"],
      [{ ...HOOK, url: "javascript:alert(1)" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "ftp://files.example.com/x" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "https://user:pass@example.com/x" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "https://user@example.com/x" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "not a url" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "https://exa\nmple.com/" }, 400, "invalid_input", "url"],
      [{ ...HOOK, url: "" }, 400, "invalid_input", "url"],
      [{ ...HOOK, description: "x".repeat(501) }, 400, "invalid_input", "description"],
      [{ ...HOOK, description: "a\u0001b" }, 400, "invalid_input", "description"],
      [{ ...HOOK, description: 7 }, 400, "invalid_input", "description"],
      [{ ...HOOK, enabled: false }, 400, "invalid_input"], // not a field of a registration
      [{ ...HOOK, secret: "whsec_mine" }, 400, "invalid_input"],
      [{ url: HOOK.url }, 400, "invalid_input"],
      [[HOOK], 400, "invalid_input"],
      ["{not json", 400, "invalid_json"],
      [JSON.stringify({ ...HOOK, description: "x".repeat(70_000) }), 413, "body_too_large"],
    ];
    for (const [body, status, code, field] of bad) {
      const res = await admin("POST", "/webhooks", body);
      expectRefusal(res, status, code);
      if (field) expect({ body, message: res.body.message }).toEqual({ body, message: expect.stringMatching(new RegExp(`^${field}: `)) });
    }
    const badPatches: unknown[] = [
      {}, { enabled: "true" }, { enabled: 1 }, { events: [] }, { events: ["nope"] }, { url: "ftp://x.example" }, { id: 9 },
      { secret: "whsec_x" }, { url: "https://a.example", extra: 1 },
    ];
    for (const body of badPatches) expectRefusal(await admin("PATCH", `/webhooks/${existing.id}`, body), 400, "invalid_input");
    expect(await snapshot()).toEqual(before);
  });

  test("ids that are none, or no number: 404 unknown_webhook / unknown_delivery", async () => {
    const before = await snapshot();
    for (const id of ["999999", "abc", "0", "-1", "1.5", "99999999999", "1e3"]) {
      expectRefusal(await admin("GET", `/webhooks/${id}`), 404, "unknown_webhook");
      expectRefusal(await admin("PATCH", `/webhooks/${id}`, { enabled: false }), 404, "unknown_webhook");
      expectRefusal(await admin("DELETE", `/webhooks/${id}`), 404, "unknown_webhook");
      expectRefusal(await admin("POST", `/webhooks/${id}/rotate-secret`), 404, "unknown_webhook");
      expectRefusal(await admin("GET", `/webhooks/${id}/deliveries`), 404, "unknown_webhook");
      expectRefusal(await admin("POST", `/webhooks/deliveries/${id}/retry`), 404, "unknown_delivery");
    }
    expect(await snapshot()).toEqual(before);
  });

  test("401 without the admin token (or with another), before the body is looked at", async () => {
    const existing = await register();
    const before = await snapshot();
    const calls: [string, string, unknown?][] = [
      ["POST", "/admin/webhooks", HOOK], ["POST", "/admin/webhooks", { bogus: 1 }], ["GET", "/admin/webhooks"],
      ["GET", `/admin/webhooks/${existing.id}`], ["PATCH", `/admin/webhooks/${existing.id}`, { enabled: false }],
      ["DELETE", `/admin/webhooks/${existing.id}`], ["POST", `/admin/webhooks/${existing.id}/rotate-secret`],
      ["GET", `/admin/webhooks/${existing.id}/deliveries`], ["POST", "/admin/webhooks/deliveries/1/retry"],
    ];
    for (const [method, path, body] of calls) {
      for (const headers of [{}, { authorization: "Bearer not-the-token" }] as Record<string, string>[]) {
        const res = await env.call(method, path, body, headers);
        expectRefusal(res, 401, "unauthorized");
        expect(JSON.stringify(res.body)).not.toContain("whsec_");
      }
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("deliveries", () => {
  test("listed newest first, by status, a page at a time; retried when delivered or failed, never when pending", async () => {
    const hook = await register({ url: "https://a.example/in", events: ["ticket_type.updated"] });
    const other = await register({ url: "https://b.example/in", events: ["*"] });
    const type = await env.ticketType({ capacity: 10 });
    for (const capacity of [11, 12, 13]) expect((await admin("PATCH", `/ticket-types/${type}`, { capacity })).status).toBe(200);
    expect((await admin("PATCH", `/ticket-types/${type}`, { capacity: 13 })).status).toBe(200); // no change: no event

    const all = await admin("GET", `/webhooks/${hook.id}/deliveries`);
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    const deliveries = all.body.deliveries as any[];
    expect(deliveries).toHaveLength(3);
    expect(deliveries.map((d) => d.payload.data.capacity)).toEqual([13, 12, 11]);
    expect(deliveries[0]).toEqual({
      id: expect.any(Number), webhook_id: expect.stringMatching(/^msg_[0-9a-f]{32}$/), event_type: "ticket_type.updated", status: "pending",
      attempts: 0, last_status_code: null, last_error: null, next_attempt_at: expect.any(String), last_attempt_at: null, delivered_at: null,
      created_at: expect.any(String),
      payload: {
        type: "ticket_type.updated", timestamp: expect.any(String),
        data: expect.objectContaining({ ticket_type_id: type, capacity: 13, changes: { capacity: { old: 12, new: 13 } }, actor: "admin" }),
      },
    });
    // the other endpoint got the same events, with the same webhook-ids
    const theirs = (await admin("GET", `/webhooks/${other.id}/deliveries`)).body.deliveries as any[];
    expect(theirs.map((d) => d.webhook_id)).toEqual(deliveries.map((d) => d.webhook_id));

    // pages of 2 and 1, no delivery twice
    const first = await admin("GET", `/webhooks/${hook.id}/deliveries?limit=2`);
    expect(first.body.deliveries.map((d: any) => d.id)).toEqual(deliveries.slice(0, 2).map((d) => d.id));
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await admin("GET", `/webhooks/${hook.id}/deliveries?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toEqual({ deliveries: [deliveries[2]], next_cursor: null });
    // another endpoint's cursor, a made-up one, bad limits and statuses: 400
    expectRefusal(await admin("GET", `/webhooks/${other.id}/deliveries?cursor=${first.body.next_cursor}`), 400, "invalid_cursor");
    expectRefusal(await admin("GET", `/webhooks/${hook.id}/deliveries?cursor=bogus`), 400, "invalid_cursor");
    for (const query of ["limit=0", "limit=10001", "limit=abc", "status=lost", "status=PENDING"]) {
      expectRefusal(await admin("GET", `/webhooks/${hook.id}/deliveries?${query}`), 400, "invalid_input");
    }

    // the worker's outcomes, arranged: the newest failed, the oldest delivered
    const [newest, middle, oldest] = deliveries.map((d) => d.id as number);
    await env.sql`UPDATE webhook_deliveries SET status = 'failed', attempts = 8, last_status_code = 503, last_error = 'HTTP 503',
      last_attempt_at = now() WHERE id = ${newest}`;
    await env.sql`UPDATE webhook_deliveries SET status = 'delivered', attempts = 1, last_status_code = 200, last_attempt_at = now(),
      delivered_at = now() WHERE id = ${oldest}`;
    const byStatus = async (status: string) =>
      ((await admin("GET", `/webhooks/${hook.id}/deliveries?status=${status}`)).body.deliveries as any[]).map((d) => d.id);
    expect(await byStatus("failed")).toEqual([newest]);
    expect(await byStatus("delivered")).toEqual([oldest]);
    expect(await byStatus("pending")).toEqual([middle]);
    const failed = (await admin("GET", `/webhooks/${hook.id}/deliveries?status=failed`)).body.deliveries[0];
    expect(failed).toMatchObject({ status: "failed", attempts: 8, last_status_code: 503, next_attempt_at: null });

    // retry the failed one: pending, due now, its attempts counting on
    const retried = await admin("POST", `/webhooks/deliveries/${newest}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: newest, status: "pending", attempts: 8, last_status_code: 503, next_attempt_at: expect.any(String) });
    const [row] = await env.sql`SELECT status, attempts, next_attempt_at <= now() AS due FROM webhook_deliveries WHERE id = ${newest}`;
    expect(row).toEqual({ status: "pending", attempts: 8, due: true });
    // and the delivered one
    expect((await admin("POST", `/webhooks/deliveries/${oldest}/retry`)).body).toMatchObject({ status: "pending", attempts: 1 });

    // pending ones: 409, unchanged
    const before = await snapshot();
    for (const id of [newest, middle]) expectRefusal(await admin("POST", `/webhooks/deliveries/${id}/retry`), 409, "delivery_pending");
    expectRefusal(await admin("POST", "/webhooks/deliveries/999999999/retry"), 404, "unknown_delivery");
    expect(await snapshot()).toEqual(before);

    // deleting the endpoint deletes its deliveries, and no one else's
    const theirsBefore = (await env.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = ${other.id}`)[0]!.n;
    expect(theirsBefore).toBeGreaterThanOrEqual(3);
    expect((await admin("DELETE", `/webhooks/${hook.id}`)).body).toEqual({ id: hook.id, deleted: true, deliveries_deleted: 3 });
    expect(await env.sql`SELECT 1 FROM webhook_deliveries WHERE endpoint_id = ${hook.id}`).toHaveLength(0);
    expect((await env.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = ${other.id}`)[0]!.n).toBe(theirsBefore);
    expectRefusal(await admin("POST", `/webhooks/deliveries/${middle}/retry`), 404, "unknown_delivery");
  });

  test("a disabled endpoint gets no new deliveries", async () => {
    const hook = await register({ url: "https://c.example/in", events: ["ticket_type.updated"] });
    await admin("PATCH", `/webhooks/${hook.id}`, { enabled: false });
    const type = await env.ticketType({ capacity: 10 });
    await admin("PATCH", `/ticket-types/${type}`, { capacity: 20 });
    expect((await admin("GET", `/webhooks/${hook.id}/deliveries`)).body.deliveries).toEqual([]);
  });
});

describe("the audit log", () => {
  test("register, change, rotate, delete and retry each leave a row with the actor; no secret anywhere", async () => {
    const created = await register({ url: "https://d.example/in", events: ["booking.confirmed"] });
    await admin("PATCH", `/webhooks/${created.id}`, { events: ["booking.confirmed"], enabled: false }); // events as they were
    const rotated = (await admin("POST", `/webhooks/${created.id}/rotate-secret`)).body;
    await admin("DELETE", `/webhooks/${created.id}`);
    const rows = await env.sql`
      SELECT actor, route, changes FROM admin_audit WHERE target_type = 'webhook' AND target_id = ${created.id} ORDER BY id`;
    expect([...rows]).toEqual([
      {
        actor: "admin", route: "POST /admin/webhooks",
        changes: {
          url: { old: null, new: "https://d.example/in" }, events: { old: null, new: ["booking.confirmed"] },
          description: { old: null, new: "" }, enabled: { old: null, new: true },
        },
      },
      { actor: "admin", route: "PATCH /admin/webhooks/:id", changes: { enabled: { old: true, new: false } } },
      {
        actor: "admin", route: "POST /admin/webhooks/:id/rotate-secret",
        changes: { previous_secret_expires_at: { old: null, new: rotated.previous_secret_expires_at } },
      },
      {
        actor: "admin", route: "DELETE /admin/webhooks/:id",
        changes: {
          url: { old: "https://d.example/in", new: null }, events: { old: ["booking.confirmed"], new: null },
          description: { old: "", new: null }, enabled: { old: false, new: null },
        },
      },
    ]);
    const retries = await env.sql`SELECT changes FROM admin_audit WHERE target_type = 'webhook_delivery'`;
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]!.changes).toHaveProperty("status");

    // no secret in any row (every secret ever made is in the table or was answered above)
    const text = JSON.stringify([...await env.sql`SELECT * FROM admin_audit`]);
    expect(text).not.toContain("whsec_");
    expect(text).not.toContain(rotated.secret.slice(6));
    const page = await admin("GET", "/audit?limit=10000");
    expect(page.status).toBe(200);
    expect(JSON.stringify(page.body)).not.toContain("whsec_");
  });
});
