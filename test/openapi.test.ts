// The OpenAPI document against the app itself, on real Redis and PostgreSQL: every route the app
// serves is in it (and nothing else), real answers (successes and errors) have a documented
// status and a body that passes the schema documented for it, and the docs page loads nothing
// from another host.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { SignJWT } from "jose";
import { API_DOCS, DOCS_PATHS } from "../src/api/docs";
import { StatusAnswer as StatusAnswerSchema } from "../src/api/schemas";
import { ERROR_CODES, type ErrorCode } from "../src/core/error-codes";
import { CONFIRM_REFUSALS, PAYMENT_IN_PROGRESS, RELEASE_REFUSALS } from "../src/domain/states";
import { generateKeyPairSync } from "node:crypto";
import { createApp } from "../src/app";
import { CheckoutHandOff } from "../src/checkout/hand-off";
import { createJoinIdentity } from "../src/queue/join-identity";
import { Readiness } from "../src/ops/readiness";
import { WEBHOOK_EVENTS, webhookBody } from "../src/api/webhook-events";
import { SUBSCRIBABLE, WEBHOOK_EVENT_TYPES } from "../src/webhooks/event-types";
import { createTestEnv, join, type TestEnv } from "./helpers";

const ADMIN_TOKEN = "openapi-test-admin-token-".padEnd(40, "a");
const JWT_SECRET = "openapi-test-jwt-secret-".padEnd(40, "j");
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

let env: TestEnv;
let document: any;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
  document = (await env.call("GET", DOCS_PATHS.spec)).body;
});
afterAll(() => env.close());

/** The app's routes as "METHOD /path" (CORS' OPTIONS and catch-alls are no routes of the API). */
const routeKeys = (app: { routes: { method: string; path: string }[] }) =>
  app.routes.filter((r) => !["OPTIONS", "HEAD", "ALL", "WS"].includes(r.method)).map((r) => `${r.method} ${r.path}`);

/** "GET /admin/events/{id}" -> "GET /admin/events/:id" */
const elysiaPath = (path: string) => path.replace(/\{([^}]+)\}/g, ":$1");

type Answer = { status: number; body: unknown; headers: Headers };

/**
 * What is wrong with an answer of a route, by what is documented for it: its status must be
 * listed for the route (in src/api/docs.ts and in the served document alike), and its body must
 * pass the schema documented for that status and content type.
 */
function problemsWith(route: string, res: Answer): string[] {
  const [method, path] = route.split(" ") as [string, string];
  const served = document.paths[path.replace(/:([^/]+)/g, "{$1}")]?.[method.toLowerCase()];
  const answer = API_DOCS[route]?.responses[res.status];
  if (!answer || !served?.responses?.[res.status]) return [`${route}: status ${res.status} is not documented`];
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const content = answer.content[type];
  if (!content || !served.responses[res.status].content?.[type]) return [`${route} ${res.status}: content type ${type} is not documented`];
  return [...Value.Errors(content.schema, res.body)].map((e) => `${route} ${res.status}: ${e.path} ${e.message}`);
}

const exercised = new Set<string>();
/** route -> the statuses its real answers had */
const statusesSeen = new Map<string, Set<number>>();

/** Calls the app (or `app`) and expects the answer documented; returns it for the test to look at. */
async function expectDocumented(
  route: string, status: number, path: string, body?: unknown, headers: Record<string, string> = {}, app = env.app,
): Promise<any> {
  const [method] = route.split(" ");
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await app.handle(new Request(`http://localhost${path}`, init));
  const text = await response.text();
  let parsed: unknown = text;
  if (response.headers.get("content-type")?.startsWith("application/json")) parsed = JSON.parse(text);
  const res = { status: response.status, body: parsed, headers: response.headers };
  expect({ route, status: res.status, body: res.body }).toMatchObject({ status });
  expect(problemsWith(route, res)).toEqual([]);
  exercised.add(route);
  statusesSeen.set(route, (statusesSeen.get(route) ?? new Set()).add(res.status));
  return res.body;
}

describe("the document", () => {
  test("names every route the app serves, and only those", () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${elysiaPath(path)}`),
    );
    expect(documented.sort()).toEqual(routeKeys(env.app).sort());
    expect(Object.keys(API_DOCS).sort()).toEqual(routeKeys(env.app).sort());
  });

  test("says of every operation what it does and every answer it gives", () => {
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(operations)) {
        const where = `${method} ${path}`;
        expect({ where, summary: typeof op.summary, tags: op.tags?.length }).toEqual({ where, summary: "string", tags: 1 });
        const statuses = Object.keys(op.responses ?? {});
        expect({ where, success: statuses.some((s) => s.startsWith("2")) }).toEqual({ where, success: true });
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const examples = Object.values(op.responses[status].content["application/json"].examples ?? {});
          // an example for each error code the status names
          const error = op.responses[status].content["application/json"].schema.properties.error;
          const codes = error.enum ?? [error.const];
          expect({ where, status, examples: examples.map((e: any) => e.value.error) }).toEqual({ where, status, examples: codes });
        }
      }
    }
  });

  test("documents every error code of src/core/error-codes.ts, each at its status, and no other", () => {
    // code -> the statuses the document answers it with (its per-route answers and /readyz's 503)
    const documented = new Map<string, Set<number>>();
    for (const operations of Object.values(document.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(operations)) {
        for (const [status, answer] of Object.entries(op.responses as Record<string, any>)) {
          const error = answer.content?.["application/json"]?.schema?.properties?.error;
          for (const code of error ? (error.enum ?? [error.const]) : []) {
            documented.set(code, (documented.get(code) ?? new Set()).add(Number(status)));
          }
          for (const example of Object.values(answer.content?.["application/json"]?.examples ?? {}) as any[]) {
            if (error) expect({ status, example: example.value.message }).not.toMatchObject({ example: expect.stringContaining("undefined") });
          }
        }
      }
    }
    // the answers of no route in particular are named in the document's description
    for (const code of ["not_found", "method_not_allowed", "internal"] as const) {
      expect(document.info.description).toContain(`${ERROR_CODES[code].status} ${code}`);
      documented.set(code, new Set([ERROR_CODES[code].status]));
    }
    const registered = Object.entries(ERROR_CODES).map(([code, { status }]) => [code, [status]]);
    expect(Object.fromEntries([...documented].map(([code, statuses]) => [code, [...statuses]])))
      .toEqual(Object.fromEntries(registered));
    // confirm's and release's refusals answer each code at the status the registry gives it
    for (const r of [...Object.values(CONFIRM_REFUSALS), ...Object.values(RELEASE_REFUSALS), PAYMENT_IN_PROGRESS]) {
      expect({ code: r.code, status: r.status }).toEqual({ code: r.code, status: ERROR_CODES[r.code as ErrorCode]?.status });
    }
  });

  test("admin routes name the admin bearer token; the public ones do not", () => {
    expect(document.components.securitySchemes.adminToken).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(operations)) {
        expect({ path, admin: JSON.stringify(op.security ?? []).includes("adminToken") }).toEqual({ path, admin: path.startsWith("/admin/") });
      }
    }
  });

  test("the request bodies are the routes' own schemas, as JSON, with an example", () => {
    const joinBody = document.paths["/queue/join"].post.requestBody.content["application/json"];
    expect(joinBody.schema.properties.ticket_type_id).toMatchObject({ type: "integer", minimum: 1 });
    expect(joinBody.example).toEqual(API_DOCS["POST /queue/join"]!.requestExample);
  });

  test("describes each webhook event: one POST per type of src/webhooks/event-types.ts, signed, with its body", () => {
    expect(Object.keys(document.webhooks).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    for (const [type, { post }] of Object.entries(document.webhooks as Record<string, { post: any }>)) {
      expect({ type, headers: post.parameters.map((p: any) => `${p.in} ${p.name} ${p.required}`) })
        .toEqual({ type, headers: ["header webhook-id true", "header webhook-timestamp true", "header webhook-signature true"] });
      const schema = post.requestBody.content["application/json"].schema;
      expect({ type, body: Object.keys(schema.properties), kind: schema.properties.type.const })
        .toEqual({ type, body: ["type", "timestamp", "data"], kind: type });
      expect(Object.keys(post.responses)).toEqual(["2XX"]);
    }
    // an endpoint subscribes to exactly these, or *
    const events = document.paths["/admin/webhooks"].post.requestBody.content["application/json"].schema.properties.events;
    expect(events.items.enum.sort()).toEqual([...SUBSCRIBABLE].sort());
  });

  test("costs the hot paths nothing per request: no response validation, no hook of its own", () => {
    for (const route of ["POST /queue/join", "GET /reservation/status", "POST /reservation/confirm", "POST /reservation/release"]) {
      const hooks = env.app.routes.find((r) => `${r.method} ${r.path}` === route)!.hooks as Record<string, any>;
      expect({ route, response: hooks.response, afterHandle: hooks.afterHandle?.length ?? 0 }).toEqual({ route, response: undefined, afterHandle: 0 });
    }
  });

  test("the checker refuses an undocumented status, an undocumented field and a wrong type", () => {
    const headers = new Headers({ "content-type": "application/json" });
    const route = "POST /reservation/confirm";
    const confirmed = {
      status: "confirmed", booking_id: 1, booking_ref: "7K3QX9M2TD", queue_token: "t", ticket_type_id: 1, quantity: 1, amount: 50,
      currency: "EUR", confirmed_at: "2026-01-01T00:00:00.000Z",
    };
    expect(problemsWith(route, { status: 200, body: confirmed, headers })).toEqual([]);
    expect(problemsWith(route, { status: 418, body: {}, headers })).toEqual([`${route}: status 418 is not documented`]);
    expect(problemsWith(route, { status: 200, body: { ...confirmed, extra: 1 }, headers }).length).toBeGreaterThan(0);
    expect(problemsWith(route, { status: 200, body: { ...confirmed, confirmed_at: "yesterday" }, headers }).length).toBeGreaterThan(0);
    expect(problemsWith(route, { status: 409, body: { error: "no_such_code", message: "m" }, headers }).length).toBeGreaterThan(0);
    expect(problemsWith(route, { status: 200, body: "x", headers: new Headers({ "content-type": "text/csv" }) }).length).toBeGreaterThan(0);
  });
});

describe("real answers match the document", () => {
  test("service and events", async () => {
    await env.ticketType({ capacity: 5 });
    await expectDocumented("GET /health", 200, "/health");
    await expectDocumented("GET /readyz", 200, "/readyz");
    // not ready: a worker that stopped (this in-process app runs none of its own)
    const readiness = new Readiness(env.s);
    readiness.watch("processor", () => "stopped");
    const notReady = await expectDocumented("GET /readyz", 503, "/readyz", undefined, {}, createApp({ ...env.s, instance: { ...env.s.instance, readiness: () => readiness.check() } }));
    expect(notReady).toMatchObject({ failing: ["processor"] });
    const metrics = await expectDocumented("GET /metrics", 200, "/metrics", undefined, admin);
    expect(metrics).toContain("ticketqueue_http_requests_total");
    await expectDocumented("GET /metrics", 401, "/metrics");
    const noTokens = createApp({ ...env.s, config: { ...env.config, ADMIN_TOKEN: undefined } });
    await expectDocumented("GET /metrics", 403, "/metrics", undefined, admin, noTokens);
    const events = await expectDocumented("GET /events", 200, "/events");
    expect(events.length).toBeGreaterThan(0);
    await expectDocumented(`GET ${DOCS_PATHS.spec}`, 200, DOCS_PATHS.spec);
    await expectDocumented(`GET ${DOCS_PATHS.page}`, 200, DOCS_PATHS.page);
    await expectDocumented(`GET ${DOCS_PATHS.script}`, 200, DOCS_PATHS.script);
    await expectDocumented(`GET ${DOCS_PATHS.style}`, 200, DOCS_PATHS.style);
  });

  test("joining: success and each refusal", async () => {
    const route = "POST /queue/join";
    const type = await env.ticketType({ capacity: 3, per_user_limit: 2 });
    const soldOut = await env.ticketType({ capacity: 0 });
    await expectDocumented(route, 200, "/queue/join", { user_id: "ann", ticket_type_id: type });
    await expectDocumented(route, 409, "/queue/join", { user_id: "ann", ticket_type_id: type }); // already_queued
    await expectDocumented(route, 400, "/queue/join", { user_id: "bob", ticket_type_id: type, quantity: 0 });
    await expectDocumented(route, 400, "/queue/join", "{not json");
    await expectDocumented(route, 400, "/queue/join", { user_id: "bob", ticket_type_id: type, quantity: 3 }); // quantity_over_limit
    await expectDocumented(route, 404, "/queue/join", { user_id: "bob", ticket_type_id: 999_999 });
    await expectDocumented(route, 409, "/queue/join", { user_id: "bob", ticket_type_id: soldOut });
    await expectDocumented(route, 413, "/queue/join", JSON.stringify({ user_id: "x".repeat(70_000), ticket_type_id: type }));

    // limit_reached (with `remaining`): one ticket booked of a limit of two, then two asked for
    const token = await join(env, "cy", type, 1);
    await env.drain();
    await env.post("/reservation/confirm", { token });
    const limited = await expectDocumented(route, 409, "/queue/join", { user_id: "cy", ticket_type_id: type, quantity: 2 });
    expect(limited).toMatchObject({ error: "limit_reached", remaining: 1 });

    const small = await env.ticketType({ capacity: 1, per_user_limit: 4 });
    const tooMany = await expectDocumented(route, 409, "/queue/join", { user_id: "dee", ticket_type_id: small, quantity: 2 });
    expect(tooMany.error).toBe("quantity_over_capacity");
  });

  test("joining with JOIN_AUTH=jwt: 401 without a JWT, 403 for another user, 200 with one", async () => {
    const config = { ...env.config, JOIN_AUTH: "jwt" as const, JOIN_JWT_SECRET: JWT_SECRET };
    const jwtApp = createApp({ ...env.s, config, joinIdentity: createJoinIdentity(config) });
    const type = await env.ticketType({ capacity: 5 });
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("eve").setExpirationTime("5m")
      .sign(new TextEncoder().encode(JWT_SECRET));
    const route = "POST /queue/join";
    await expectDocumented(route, 401, "/queue/join", { user_id: "eve", ticket_type_id: type }, {}, jwtApp);
    const bearer = { authorization: `Bearer ${jwt}` };
    await expectDocumented(route, 403, "/queue/join", { user_id: "mallory", ticket_type_id: type }, bearer, jwtApp);
    await expectDocumented(route, 200, "/queue/join", { ticket_type_id: type }, bearer, jwtApp);
    // a verified rejoin gets its own token back
    await expectDocumented(route, 200, "/queue/join", { ticket_type_id: type }, bearer, jwtApp);
  });

  test("status, confirm and release through a token's life", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const status = (t: string) => `/reservation/status?token=${encodeURIComponent(t)}`;
    const S = "GET /reservation/status", C = "POST /reservation/confirm", R = "POST /reservation/release";

    const [a, b, c, d] = [await join(env, "a1", type), await join(env, "b1", type), await join(env, "c1", type), await join(env, "d1", type)];
    expect((await expectDocumented(S, 200, status(a))).status).toBe("queued");
    await expectDocumented(C, 409, "/reservation/confirm", { token: a }); // not_reserved
    expect((await expectDocumented(R, 200, "/reservation/release", { token: d })).status).toBe("released"); // leaves the queue
    expect((await expectDocumented(S, 200, status(d))).status).toBe("released");

    await env.drain();
    expect((await expectDocumented(S, 200, status(a))).status).toBe("reserved");
    await expectDocumented(C, 200, "/reservation/confirm", { token: a });
    await expectDocumented(C, 200, "/reservation/confirm", { token: a }); // the same booking again
    expect((await expectDocumented(S, 200, status(a))).status).toBe("confirmed");
    // the stream of a token that left the queue: one message, the status route's answer, then it closes
    const T = "GET /reservation/stream";
    const sse: string = await expectDocumented(T, 200, `/reservation/stream?token=${encodeURIComponent(d)}`);
    const data = sse.split("\n").filter((line) => line.startsWith("data: ")).map((line) => JSON.parse(line.slice(6)));
    expect(data.map((d) => d.status)).toEqual(["released"]);
    expect([...Value.Errors(StatusAnswerSchema, data[0])]).toEqual([]);
    await expectDocumented(T, 400, "/reservation/stream");
    await expectDocumented(T, 404, `/reservation/stream?token=${"A".repeat(48)}`);
    await expectDocumented(R, 409, "/reservation/release", { token: a }); // already_confirmed

    await expectDocumented(R, 200, "/reservation/release", { token: b }); // gives the hold back
    await expectDocumented(C, 409, "/reservation/confirm", { token: b }); // released

    await env.backdate(c);
    await expectDocumented(C, 410, "/reservation/confirm", { token: c }); // hold_expired
    await expectDocumented(R, 410, "/reservation/release", { token: c });
    expect((await expectDocumented(S, 200, status(c))).status).toBe("expired");

    const forged = "A".repeat(48);
    await expectDocumented(S, 404, status(forged));
    await expectDocumented(C, 404, "/reservation/confirm", { token: forged });
    await expectDocumented(R, 404, "/reservation/release", { token: forged });
    await expectDocumented(S, 400, "/reservation/status");
    await expectDocumented(C, 400, "/reservation/confirm", { token: 5 });
    await expectDocumented(R, 400, "/reservation/release", {});
    await env.expectInvariants();
  });

  test("sale controls: not on sale yet, the pre-queue, a paused sale", async () => {
    const J = "POST /queue/join", S = "GET /reservation/status", P = "PATCH /admin/ticket-types/:id";
    const status = (t: string) => `/reservation/status?token=${encodeURIComponent(t)}`;
    const type = await env.ticketType({ capacity: 10 });
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString(); // past the 15-minute pre-queue window
    await expectDocumented(P, 200, `/admin/ticket-types/${type}`, { sale_starts_at: later }, admin);
    env.s.catalog.invalidate();
    const early = await expectDocumented(J, 409, "/queue/join", { user_id: "early", ticket_type_id: type });
    expect(early).toMatchObject({ error: "not_on_sale", sale_starts_at: later });

    const soon = new Date(Date.now() + 60_000).toISOString(); // inside the window
    await expectDocumented(P, 200, `/admin/ticket-types/${type}`, { sale_starts_at: soon }, admin);
    const waiting = await expectDocumented(J, 200, "/queue/join", { user_id: "pre", ticket_type_id: type });
    expect(waiting.status).toBe("waiting_for_sale");
    expect((await expectDocumented(S, 200, status(waiting.queue_token))).status).toBe("waiting_for_sale");

    const open = await env.ticketType({ capacity: 10 });
    await expectDocumented(P, 200, `/admin/ticket-types/${open}`, { paused: true }, admin);
    const queued = await expectDocumented(J, 200, "/queue/join", { user_id: "p1", ticket_type_id: open });
    expect((await expectDocumented(S, 200, status(queued.queue_token))).status).toBe("paused");
  });

  test("admin: events and ticket types", async () => {
    const created = await expectDocumented("POST /admin/events", 201, "/admin/events", { name: "Gala", starts_at: "2027-04-10T19:30:00+02:00" }, admin);
    await expectDocumented("POST /admin/events", 400, "/admin/events", { name: "Gala", paused: true }, admin);
    await expectDocumented("POST /admin/events", 401, "/admin/events", { name: "Gala" });
    const off = createApp({ ...env.s, config: { ...env.config, ADMIN_TOKEN: undefined } });
    await expectDocumented("POST /admin/events", 403, "/admin/events", { name: "Gala" }, admin, off);

    await expectDocumented("PATCH /admin/events/:id", 200, `/admin/events/${created.id}`, { venue: "Hall" }, admin);
    await expectDocumented("PATCH /admin/events/:id", 404, "/admin/events/999999", { venue: "Hall" }, admin);
    await expectDocumented("PATCH /admin/events/:id", 400, `/admin/events/${created.id}`, {}, admin);

    const T = "POST /admin/events/:id/ticket-types";
    const type = await expectDocumented(T, 201, `/admin/events/${created.id}/ticket-types`, { name: "Stalls", price: 59.5, capacity: 2 }, admin);
    await expectDocumented(T, 404, "/admin/events/999999/ticket-types", { name: "Stalls", price: 1, capacity: 2 }, admin);
    await expectDocumented(T, 400, `/admin/events/${created.id}/ticket-types`, { name: "Stalls", price: -1, capacity: 2 }, admin);

    const P = "PATCH /admin/ticket-types/:id";
    await expectDocumented(P, 200, `/admin/ticket-types/${type.id}`, { capacity: 3, paused: true, max_active_holds: 5 }, admin);
    await expectDocumented(P, 200, `/admin/ticket-types/${type.id}`, { paused: false }, admin);
    await join(env, "f1", type.id, 2);
    await env.drain();
    await expectDocumented(P, 409, `/admin/ticket-types/${type.id}`, { capacity: 1 }, admin); // capacity_below_sold
    await expectDocumented(P, 404, "/admin/ticket-types/999999", { capacity: 1 }, admin);

    const F = "GET /admin/ticket-types/:id";
    const figures = await expectDocumented(F, 200, `/admin/ticket-types/${type.id}`, undefined, admin);
    expect(figures).toMatchObject({ held: 2, redis: "ok" });
    await expectDocumented(F, 404, "/admin/ticket-types/999999", undefined, admin);
    await expectDocumented(F, 400, "/admin/ticket-types/abc", undefined, admin);
    await expectDocumented(F, 401, `/admin/ticket-types/${type.id}`, undefined, { authorization: "Bearer wrong" });
  });

  test("admin: the bookings export, JSON and CSV", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const [{ event_id: eventId }] = await env.sql`SELECT event_id FROM ticket_types WHERE id = ${type}`;
    const token = await join(env, "gus", type, 2);
    await env.drain();
    await env.post("/reservation/confirm", { token });
    const B = "GET /admin/events/:id/bookings";
    const page = await expectDocumented(B, 200, `/admin/events/${eventId}/bookings?limit=10`, undefined, admin);
    expect(page.bookings).toHaveLength(1);
    const csv = await expectDocumented(B, 200, `/admin/events/${eventId}/bookings?format=csv`, undefined, admin);
    expect(csv).toStartWith("booking_id,");
    await expectDocumented(B, 400, `/admin/events/${eventId}/bookings?cursor=bogus`, undefined, admin);
    await expectDocumented(B, 400, `/admin/events/${eventId}/bookings?format=xml`, undefined, admin);
    await expectDocumented(B, 404, "/admin/events/999999/bookings", undefined, admin);
    await expectDocumented(B, 403, `/admin/events/${eventId}/bookings`, undefined, admin,
      createApp({ ...env.s, config: { ...env.config, ADMIN_TOKEN: undefined } }));
  });

  test("admin: the console's event list and an event's figures", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const [{ event_id: eventId }] = await env.sql`SELECT event_id FROM ticket_types WHERE id = ${type}`;
    await join(env, "hal", type, 2);
    await env.drain();
    const L = "GET /admin/events", F = "GET /admin/events/:id/figures";
    const events = await expectDocumented(L, 200, "/admin/events", undefined, admin);
    expect(events.find((e: any) => e.id === eventId).ticket_types[0].id).toBe(type);
    await expectDocumented(L, 401, "/admin/events");
    const figures = await expectDocumented(F, 200, `/admin/events/${eventId}/figures`, undefined, admin);
    expect(figures.ticket_types[0]).toMatchObject({ id: type, held: 2, holds: 1, holds_granted: 1, bookings: 0 });
    await expectDocumented(F, 404, "/admin/events/999999/figures", undefined, admin);
    await expectDocumented(F, 400, "/admin/events/abc/figures", undefined, admin);
    await expectDocumented(F, 401, `/admin/events/${eventId}/figures`, undefined, { authorization: "Bearer wrong" });
  });

  test("admin: the audit log", async () => {
    const A = "GET /admin/audit";
    const type = await env.ticketType({ capacity: 5 });
    await expectDocumented("PATCH /admin/ticket-types/:id", 200, `/admin/ticket-types/${type}`, { capacity: 6, paused: true }, admin);
    await expectDocumented("PATCH /admin/ticket-types/:id", 200, `/admin/ticket-types/${type}`, { paused: true }, admin); // no change
    const page = await expectDocumented(A, 200, "/admin/audit?limit=1", undefined, admin);
    expect(page.entries).toHaveLength(1);
    expect(page.next_cursor).toEqual(expect.any(String));
    await expectDocumented(A, 200, `/admin/audit?limit=10000&cursor=${page.next_cursor}`, undefined, admin);
    await expectDocumented(A, 400, "/admin/audit?cursor=bogus", undefined, admin);
    await expectDocumented(A, 400, "/admin/audit?limit=0", undefined, admin);
    await expectDocumented(A, 401, "/admin/audit");
  });

  test("admin: webhook endpoints and their deliveries, every answer", async () => {
    const off = createApp({ ...env.s, config: { ...env.config, ADMIN_TOKEN: undefined } });
    const W = "POST /admin/webhooks", L = "GET /admin/webhooks", G = "GET /admin/webhooks/:id", P = "PATCH /admin/webhooks/:id";
    const D = "DELETE /admin/webhooks/:id", R = "POST /admin/webhooks/:id/rotate-secret", Q = "GET /admin/webhooks/:id/deliveries";
    const T = "POST /admin/webhooks/deliveries/:id/retry";
    const hook = { url: "https://shop.example.com/hooks", events: ["ticket_type.updated"] };
    const created = await expectDocumented(W, 201, "/admin/webhooks", hook, admin);
    await expectDocumented(W, 400, "/admin/webhooks", { ...hook, url: "ftp://x.example" }, admin);
    await expectDocumented(W, 400, "/admin/webhooks", "{not json", admin);
    await expectDocumented(W, 413, "/admin/webhooks", JSON.stringify({ ...hook, description: "x".repeat(70_000) }), admin);
    await expectDocumented(W, 401, "/admin/webhooks", hook);
    await expectDocumented(W, 403, "/admin/webhooks", hook, admin, off);
    await expectDocumented(L, 200, "/admin/webhooks", undefined, admin);
    await expectDocumented(L, 401, "/admin/webhooks");
    await expectDocumented(L, 403, "/admin/webhooks", undefined, admin, off);
    const at = `/admin/webhooks/${created.id}`;
    await expectDocumented(G, 200, at, undefined, admin);
    await expectDocumented(G, 404, "/admin/webhooks/abc", undefined, admin);
    await expectDocumented(G, 401, at);
    await expectDocumented(G, 403, at, undefined, admin, off);
    await expectDocumented(P, 200, at, { description: "the shop" }, admin);
    await expectDocumented(P, 400, at, { enabled: "yes" }, admin);
    await expectDocumented(P, 400, at, "{not json", admin);
    await expectDocumented(P, 413, at, JSON.stringify({ description: "x".repeat(70_000) }), admin);
    await expectDocumented(P, 404, "/admin/webhooks/999999", { enabled: false }, admin);
    await expectDocumented(P, 401, at, { enabled: false });
    await expectDocumented(P, 403, at, { enabled: false }, admin, off);
    const rotated = await expectDocumented(R, 200, `${at}/rotate-secret`, undefined, admin);
    expect((await expectDocumented(G, 200, at, undefined, admin)).previous_secret_expires_at).toBe(rotated.previous_secret_expires_at);
    await expectDocumented(R, 404, "/admin/webhooks/999999/rotate-secret", undefined, admin);
    await expectDocumented(R, 401, `${at}/rotate-secret`);
    await expectDocumented(R, 403, `${at}/rotate-secret`, undefined, admin, off);

    const type = await env.ticketType({ capacity: 5 });
    for (const capacity of [6, 7]) await expectDocumented("PATCH /admin/ticket-types/:id", 200, `/admin/ticket-types/${type}`, { capacity }, admin);
    const page = await expectDocumented(Q, 200, `${at}/deliveries?limit=1`, undefined, admin);
    expect(page.next_cursor).toEqual(expect.any(String));
    await expectDocumented(Q, 200, `${at}/deliveries?status=pending&cursor=${page.next_cursor}`, undefined, admin);
    await expectDocumented(Q, 400, `${at}/deliveries?status=lost`, undefined, admin);
    await expectDocumented(Q, 400, `${at}/deliveries?cursor=bogus`, undefined, admin);
    await expectDocumented(Q, 404, "/admin/webhooks/999999/deliveries", undefined, admin);
    await expectDocumented(Q, 401, `${at}/deliveries`);
    await expectDocumented(Q, 403, `${at}/deliveries`, undefined, admin, off);
    const [delivery] = page.deliveries;
    await expectDocumented(T, 409, `/admin/webhooks/deliveries/${delivery.id}/retry`, undefined, admin);
    await env.sql`UPDATE webhook_deliveries SET status = 'failed', attempts = 8, last_status_code = 503, last_error = 'HTTP 503' WHERE id = ${delivery.id}`;
    await expectDocumented(T, 200, `/admin/webhooks/deliveries/${delivery.id}/retry`, undefined, admin);
    await expectDocumented(T, 404, "/admin/webhooks/deliveries/999999/retry", undefined, admin);
    await expectDocumented(T, 401, `/admin/webhooks/deliveries/${delivery.id}/retry`);
    await expectDocumented(T, 403, `/admin/webhooks/deliveries/${delivery.id}/retry`, undefined, admin, off);

    await expectDocumented(D, 200, at, undefined, admin);
    await expectDocumented(D, 404, at, undefined, admin);
    await expectDocumented(D, 401, at);
    await expectDocumented(D, 403, at, undefined, admin, off);
  });

  test("webhooks: each event's payload, as sql/0012 writes it, is the one the document's webhooks describe", async () => {
    const subscribed = await expectDocumented("POST /admin/webhooks", 201, "/admin/webhooks", { url: "https://all.example/in", events: ["*"] }, admin);
    // every event type once: a grant, a confirm (of the type's last ticket), a cancel, a release, an expiry, an admin change
    const last = await env.ticketType({ capacity: 1 });
    const kept = await join(env, "wes", last);
    const other = await env.ticketType({ capacity: 5 });
    const [given, lapsed] = [await join(env, "ria", other), await join(env, "sol", other)];
    await env.drain();
    await env.post("/reservation/confirm", { token: kept });
    await env.post("/reservation/release", { token: given });
    await env.backdate(lapsed);
    await env.cleaner().expireNow();
    const [booking] = await env.sql`SELECT id FROM bookings WHERE token = ${kept}`;
    await env.call("POST", `/admin/bookings/${booking!.id}/cancel`, { reason: "refund" }, admin);
    await env.call("PATCH", `/admin/ticket-types/${other}`, { paused: true }, admin);

    await env.sql`SELECT webhook_expand_grants(1000)`; // the webhooks worker's step: grants' batches into deliveries
    const payloads = await env.sql`SELECT event_type, payload FROM webhook_deliveries WHERE endpoint_id = ${subscribed.id} ORDER BY id`;
    expect([...new Set(payloads.map((p) => p.event_type))].sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    for (const { event_type, payload } of payloads) {
      const schema = webhookBody(event_type, WEBHOOK_EVENTS[event_type]!.data);
      expect({ event_type, problems: [...Value.Errors(schema, payload)].map((e) => `${e.path} ${e.message}`) }).toEqual({ event_type, problems: [] });
      // every field the document names is written (none is optional)
      expect({ event_type, fields: Object.keys(payload.data).sort() })
        .toEqual({ event_type, fields: Object.keys(WEBHOOK_EVENTS[event_type]!.data).sort() });
    }
    await env.call("DELETE", `/admin/webhooks/${subscribed.id}`, undefined, admin);
  });

  test("the shop API: a hold, confirm (and its replay), extend, cancel; CONFIRM_BY=shop", async () => {
    const key = "openapi-test-shop-key-".padEnd(40, "s");
    const shopApp = createApp({ ...env.s, config: { ...env.config, SHOP_API_KEYS: key } });
    const shop = { authorization: `Bearer ${key}` };
    const H = "GET /shop/holds/:token", C = "POST /shop/holds/:token/confirm", E = "POST /shop/holds/:token/extend";
    const X = "POST /shop/bookings/:id/cancel", A = "POST /admin/bookings/:id/cancel";
    const type = await env.ticketType({ capacity: 10 });
    const [a, b, c] = [await join(env, "shop-a", type, 2), await join(env, "shop-b", type), await join(env, "shop-c", type)];
    await expectDocumented(H, 404, `/shop/holds/${a}`, undefined, shop, shopApp); // no_hold yet
    await expectDocumented(C, 409, `/shop/holds/${a}/confirm`, { order_ref: "o-a" }, { ...shop, "idempotency-key": "q" }, shopApp); // not_reserved
    await env.drain();
    expect((await expectDocumented(H, 200, `/shop/holds/${a}`, undefined, shop, shopApp)).status).toBe("reserved");
    await expectDocumented(H, 404, `/shop/holds/${"A".repeat(48)}`, undefined, shop, shopApp);
    await expectDocumented(H, 401, `/shop/holds/${a}`, undefined, {}, shopApp);
    await expectDocumented(H, 403, `/shop/holds/${a}`, undefined, shop); // no SHOP_API_KEYS
    expect((await expectDocumented(E, 200, `/shop/holds/${a}/extend`, { seconds: 60 }, shop, shopApp)).extended_seconds).toBe(60);
    const paying = await expectDocumented("POST /reservation/release", 409, "/reservation/release", { token: a }); // payment_in_progress
    expect(paying.error).toBe("payment_in_progress");
    await expectDocumented(E, 409, `/shop/holds/${a}/extend`, { seconds: 600 }, shop, shopApp); // extend_limit
    await expectDocumented(E, 400, `/shop/holds/${a}/extend`, { seconds: "60" }, shop, shopApp);
    const k = { ...shop, "idempotency-key": "order-a" };
    await expectDocumented(C, 409, `/shop/holds/${a}/confirm`, { order_ref: "o-a", amount: 1 }, k, shopApp); // amount_mismatch
    await expectDocumented(C, 400, `/shop/holds/${a}/confirm`, { order_ref: "o-a" }, shop, shopApp); // no key
    const booked = await expectDocumented(C, 201, `/shop/holds/${a}/confirm`, { order_ref: "o-a", amount: 100 }, k, shopApp);
    await expectDocumented(C, 201, `/shop/holds/${a}/confirm`, { order_ref: "o-a", amount: 100 }, k, shopApp); // replayed
    await expectDocumented(C, 422, `/shop/holds/${a}/confirm`, { order_ref: "o-b" }, k, shopApp);
    await expectDocumented(C, 409, `/shop/holds/${a}/confirm`, { order_ref: "o-a" }, { ...shop, "idempotency-key": "other" }, shopApp);
    await expectDocumented(E, 409, `/shop/holds/${a}/extend`, { seconds: 1 }, shop, shopApp); // already_confirmed
    expect((await expectDocumented(H, 200, `/shop/holds/${a}`, undefined, shop, shopApp)).booking_id).toBe(booked.booking_id);
    await env.backdate(b);
    await expectDocumented(C, 410, `/shop/holds/${b}/confirm`, { order_ref: "o-b" }, { ...shop, "idempotency-key": "late" }, shopApp);
    await expectDocumented(E, 410, `/shop/holds/${b}/extend`, { seconds: 5 }, shop, shopApp);

    const confirmed = await expectDocumented("GET /reservation/status", 200, `/reservation/status?token=${encodeURIComponent(a)}`);
    expect(confirmed).toMatchObject({ status: "confirmed", booking_id: booked.booking_id, booking_ref: booked.booking_ref });
    expect((await expectDocumented(X, 200, `/shop/bookings/${booked.booking_id}/cancel`, { reason: "refund" }, shop, shopApp)).status).toBe("cancelled");
    await expectDocumented(A, 200, `/admin/bookings/${booked.booking_id}/cancel`, undefined, admin);
    // the token reads cancelled, on the status route and its stream (which then closes)
    const cancelled = await expectDocumented("GET /reservation/status", 200, `/reservation/status?token=${encodeURIComponent(a)}`);
    expect(cancelled).toMatchObject({ status: "cancelled", booking_id: booked.booking_id, booking_ref: booked.booking_ref });
    const sse: string = await expectDocumented("GET /reservation/stream", 200, `/reservation/stream?token=${encodeURIComponent(a)}`);
    expect(sse).toContain(`data: ${JSON.stringify(cancelled)}`);
    // and is refused as a cancelled booking by whoever would act on it
    for (const [route, path, body, headers, app] of [
      ["POST /reservation/confirm", "/reservation/confirm", { token: a }, {}, env.app],
      ["POST /reservation/release", "/reservation/release", { token: a }, {}, env.app],
      [C, `/shop/holds/${a}/confirm`, { order_ref: "o-a2" }, { ...shop, "idempotency-key": "after-cancel" }, shopApp],
      [E, `/shop/holds/${a}/extend`, { seconds: 1 }, shop, shopApp],
    ] as const) {
      expect((await expectDocumented(route, 409, path, body, headers, app)).error).toBe("booking_cancelled");
    }
    // both cancels are in the audit log, with their actors
    const audit = await expectDocumented("GET /admin/audit", 200, "/admin/audit?limit=2", undefined, admin);
    expect(audit.entries.map((e: any) => [e.actor, e.route])).toEqual([
      ["admin", A], ["shop:" + new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 8), X],
    ]);
    await expectDocumented(X, 404, "/shop/bookings/999999/cancel", {}, shop, shopApp);
    await expectDocumented(A, 404, "/admin/bookings/999999/cancel", {}, admin);
    await expectDocumented(X, 400, `/shop/bookings/${booked.booking_id}/cancel`, { reason: 5 }, shop, shopApp);
    await expectDocumented(A, 401, `/admin/bookings/${booked.booking_id}/cancel`, {}, shop);
    await expectDocumented(X, 403, `/shop/bookings/${booked.booking_id}/cancel`, {}, shop);
    // the rest of the shop routes' and the cancels' documented statuses: no key, a wrong key, no
    // keys configured, an unknown token, a body too large, a bad body
    const big = { reason: "x".repeat(70_000) };
    for (const [route, path, body] of [[C, `/shop/holds/${c}/confirm`, { order_ref: "o-c" }], [E, `/shop/holds/${c}/extend`, { seconds: 5 }]] as const) {
      await expectDocumented(route, 401, path, body, { authorization: "Bearer wrong" }, shopApp);
      await expectDocumented(route, 403, path, body, { ...shop, "idempotency-key": "off" });
      await expectDocumented(route, 404, path.replace(c, "A".repeat(48)), body, { ...shop, "idempotency-key": "unknown" }, shopApp);
      await expectDocumented(route, 413, path, { ...body, ...big }, { ...shop, "idempotency-key": "big" }, shopApp);
    }
    await expectDocumented(X, 401, `/shop/bookings/${booked.booking_id}/cancel`, {}, admin, shopApp);
    await expectDocumented(X, 413, `/shop/bookings/${booked.booking_id}/cancel`, big, shop, shopApp);
    await expectDocumented(A, 400, `/admin/bookings/${booked.booking_id}/cancel`, { reason: 5 }, admin);
    await expectDocumented(A, 403, `/admin/bookings/${booked.booking_id}/cancel`, {}, admin,
      createApp({ ...env.s, config: { ...env.config, ADMIN_TOKEN: undefined } }));
    await expectDocumented(A, 413, `/admin/bookings/${booked.booking_id}/cancel`, big, admin);

    const shopMode = createApp({ ...env.s, config: { ...env.config, CONFIRM_BY: "shop" } });
    await expectDocumented("POST /reservation/confirm", 403, "/reservation/confirm", { token: c }, {}, shopMode);
    await env.expectInvariants();
  });

  test("the checkout hand-off: a reserved status with checkout_url, and the JWK Set", async () => {
    const config = {
      ...env.config, CONFIRM_BY: "shop" as const, CHECKOUT_URL: "https://shop.example.com/checkout", PUBLIC_URL: "https://tickets.example.com",
      CHECKOUT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    };
    const checkoutApp = createApp({ ...env.s, config, checkout: CheckoutHandOff.fromConfig(config, env.sql, env.s.log, env.s.tokens) });
    const type = await env.ticketType({ capacity: 2 });
    const token = await join(env, "checkout-reader", type);
    await env.drain();
    const status = await expectDocumented("GET /reservation/status", 200, `/reservation/status?token=${token}`, undefined, {}, checkoutApp);
    expect(status).toMatchObject({ status: "reserved", confirm_by: "shop", checkout_url: expect.stringContaining("hold=") });
    expect((await expectDocumented("GET /.well-known/jwks.json", 200, "/.well-known/jwks.json", undefined, {}, checkoutApp)).keys).toHaveLength(1);
    await expectDocumented("GET /.well-known/jwks.json", 404, "/.well-known/jwks.json");
  });

  test("rate limits: 429 rate_limited with Retry-After on each limited route, X-Request-Id on every answer", async () => {
    const limited = createApp({
      ...env.s,
      config: { ...env.config, RATE_LIMITS: "on", RATE_LIMIT_JOIN: "1,1", RATE_LIMIT_STATUS: "1,1", RATE_LIMIT_STREAM: "1,1", RATE_LIMIT_CONFIRM: "1,1" },
    });
    const type = await env.ticketType({ capacity: 5 });
    const token = encodeURIComponent(await join(env, "rl", type));
    const asks: [string, number, string, unknown?][] = [
      ["POST /queue/join", 200, "/queue/join", { user_id: "rl2", ticket_type_id: type }],
      ["POST /queue/join", 429, "/queue/join", { user_id: "rl3", ticket_type_id: type }],
      ["GET /reservation/status", 200, `/reservation/status?token=${token}`],
      ["GET /reservation/status", 429, `/reservation/status?token=${token}`],
      ["GET /reservation/stream", 404, `/reservation/stream?token=${"A".repeat(48)}`],
      ["GET /reservation/stream", 429, `/reservation/stream?token=${token}`],
      ["POST /reservation/confirm", 409, "/reservation/confirm", { token: decodeURIComponent(token) }],
      ["POST /reservation/confirm", 429, "/reservation/confirm", { token: decodeURIComponent(token) }],
      ["POST /reservation/release", 429, "/reservation/release", { token: decodeURIComponent(token) }],
    ];
    for (const [route, status, path, body] of asks) {
      const answer = await expectDocumented(route, status, path, body, { "x-request-id": `rl-${status}` }, limited);
      if (status === 429) expect(answer).toMatchObject({ error: "rate_limited", retry_after: 60, request_id: "rl-429" });
    }
    for (const path of ["/queue/join", "/reservation/status", "/reservation/stream", "/reservation/confirm", "/reservation/release"]) {
      const op = Object.values(document.paths[path])[0] as any;
      expect(op.responses[429].headers["Retry-After"]).toBeDefined();
      for (const answer of Object.values(op.responses) as any[]) expect(answer.headers["X-Request-Id"]).toBeDefined();
    }
  });

  test("every route was asked at least once above", () => {
    expect([...exercised].sort()).toEqual(routeKeys(env.app).sort());
  });

  test("the shop routes, the cancels and the webhook routes gave every answer documented for them above (but 503, which needs an outage)", () => {
    const routes = Object.keys(API_DOCS).filter((r) => r.includes(" /shop/") || r === "POST /admin/bookings/:id/cancel" || r.includes(" /admin/webhooks"));
    expect(routes).toHaveLength(13);
    for (const route of routes) {
      const documented = Object.keys(API_DOCS[route]!.responses).map(Number).filter((status) => status !== 503);
      expect({ route, seen: [...(statusesSeen.get(route) ?? [])].sort() }).toEqual({ route, seen: documented.sort() });
    }
  });
});

describe("the docs page", () => {
  test("is served with its script and style, all from this service", async () => {
    const page = await env.app.handle(new Request(`http://localhost${DOCS_PATHS.page}`));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const html = await page.text();
    // everything it loads is on this origin: no scheme, no protocol-relative URL
    expect(html).not.toMatch(/https?:|["'(]\/\//);
    const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(loaded.sort()).toEqual([DOCS_PATHS.script, DOCS_PATHS.style].sort());
    for (const path of loaded) expect((await env.app.handle(new Request(`http://localhost${path}`))).status).toBe(200);
    // Swagger UI's one default that would call another host: the validator badge
    expect(html).toContain('"validatorUrl":"none"');
    expect(html).toContain(`"url":"${DOCS_PATHS.spec.slice(1)}"`);
  });

  test("its style sheet fetches nothing: no fonts, no imports, images inline", async () => {
    const css = await (await env.app.handle(new Request(`http://localhost${DOCS_PATHS.style}`))).text();
    expect(css).not.toMatch(/@import|@font-face/);
    for (const [, url] of css.matchAll(/url\(\s*["']?([^"')]*)/g)) expect(url).toStartWith("data:");
  });

  test("its script names no host it would fetch from", async () => {
    const js = await (await env.app.handle(new Request(`http://localhost${DOCS_PATHS.script}`))).text();
    // Every host the bundle names, and why none is fetched: references in comments and error
    // texts, JSON Schema and OpenAPI identifiers, the linkifier's social-media patterns, examples.
    const notFetched = new Set([
      "datatracker.ietf.org", "www.rfc-editor.org", "spec.openapis.org", "json-schema.org", "www.w3.org", // specs, ids
      "github.com", "spdx.org", "swagger.io", "vladimirgorej.com", "reactjs.org", "redux.js.org", "fb.me", // docs, licences
      "twitter.com", "instagram.com", "www.tiktok.com", "www.facebook.com", "soundcloud.com", // link patterns
      "example.com", "base", // examples, URL resolution placeholders
      "validator.swagger.io", // the validator badge: off ("validatorUrl":"none", checked above)
    ]);
    const hosts = new Set([...js.matchAll(/https?:\/\/([a-z0-9.-]+)/gi)].map((m) => m[1]!.toLowerCase()));
    expect([...hosts].filter((h) => !notFetched.has(h))).toEqual([]);
  });

  test("is read-only: another method is 405 with Allow: GET", async () => {
    for (const path of [DOCS_PATHS.page, DOCS_PATHS.spec]) {
      const res = await env.call("POST", path, {});
      expect([res.status, res.body.error, res.headers.get("allow")]).toEqual([405, "method_not_allowed", "GET"]);
    }
  });
});
