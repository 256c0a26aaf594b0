// Request ids: every answer carries X-Request-Id (a sane one sent by the client is kept, any
// other replaced), every JSON error body says it as request_id, and the request's log lines name it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import type { Fields, Logger } from "../src/core/log";
import { createTestEnv, join, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const idOf = (res: { headers: Headers }) => res.headers.get("x-request-id");

describe("X-Request-Id", () => {
  test("is on successes, errors, unknown routes and streams, a new one each request", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const answers = [
      await env.call("GET", "/health"),
      await env.call("GET", "/events"),
      await env.post("/queue/join", { user_id: "ann", ticket_type_id: type }),
      await env.post("/queue/join", { user_id: "ann", ticket_type_id: type }), // 409
      await env.post("/queue/join", "{not json"), // 400 from the parser
      await env.call("GET", "/no/such/route"), // 404
      await env.call("DELETE", "/health"), // 405
      await env.call("GET", "/openapi/swagger-ui.css"), // a Response of its own
    ];
    const ids = answers.map(idOf);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
    expect(new Set(ids).size).toBe(ids.length);

    const token = await join(env, "bob", type);
    await env.post("/reservation/release", { token }); // final: the stream answers once and closes
    const stream = await env.app.handle(new Request(`http://localhost/reservation/stream?token=${encodeURIComponent(token)}`,
      { headers: { "content-type": "application/json", "x-request-id": "stream-1" } }));
    expect(stream.headers.get("content-type")).toStartWith("text/event-stream");
    expect(idOf(stream)).toBe("stream-1");
    await stream.text();
  });

  test("a sane one sent by the client is kept; anything else is replaced", async () => {
    for (const sent of ["abc", "req-42.retry:1_A", "x".repeat(128), "0b7e1c7e-8a1f-4f5b-9a53-3a3a8d1c2f10"]) {
      expect(idOf(await env.call("GET", "/health", undefined, { "x-request-id": sent }))).toBe(sent);
    }
    for (const sent of ["", "x".repeat(129), "has space", "<script>", "a\tb", "ünïcode", "a,b", 'quote"d']) {
      const id = idOf(await env.call("GET", "/health", undefined, { "x-request-id": sent }));
      expect(id).not.toBe(sent);
      expect(id).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
    }
  });
});

describe("request_id in error bodies", () => {
  test("every error body names the answer's id", async () => {
    const type = await env.ticketType({ capacity: 0 });
    const errors = [
      await env.post("/queue/join", { user_id: "x", ticket_type_id: type }), // 409 sold_out
      await env.post("/queue/join", { ticket_type_id: "1" }), // 400 invalid_input
      await env.post("/reservation/confirm", { token: "A".repeat(48) }), // 404 unknown_token
      await env.call("GET", "/nowhere"), // 404 not_found
      await env.call("POST", "/admin/events", { name: "x" }), // 403 admin_disabled
    ];
    for (const res of errors) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.body.request_id).toBe(idOf(res)!);
    }
    const kept = await env.call("GET", "/nowhere", undefined, { "x-request-id": "trace-7" });
    expect(kept.body).toEqual({ error: "not_found", message: "no such route", request_id: "trace-7" });
  });

  test("a 429 and a 500 say it too", async () => {
    const limited = createApp({ ...env.s, config: { ...env.config, RATE_LIMITS: "on", RATE_LIMIT_STATUS: "1,1" } });
    const ask = (id: string) => limited.handle(new Request("http://localhost/reservation/status?token=x", { headers: { "x-request-id": id } }));
    await ask("first");
    const refused = await ask("second");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as any).request_id).toBe("second");

    const broken = createApp({ ...env.s, catalog: { events: () => Promise.reject(new Error("boom")) } as any, log: capture().log });
    const res = await broken.handle(new Request("http://localhost/events", { headers: { "x-request-id": "oops-1" } }));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal", message: expect.any(String), request_id: "oops-1" });
  });
});

/** A logger that keeps its lines. */
function capture() {
  const lines: ({ level: string; message: string } & Fields)[] = [];
  const at = (level: string) => (message: string, fields: Fields = {}) => void lines.push({ level, message, ...fields });
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

describe("log lines", () => {
  test("an unexpected error's line names the request's id", async () => {
    const { log, lines } = capture();
    const app = createApp({ ...env.s, log, catalog: { events: () => Promise.reject(new Error("boom")) } as any });
    await app.handle(new Request("http://localhost/events", { headers: { "x-request-id": "fail-9" } }));
    expect(lines.find((l) => l.message === "request failed")).toMatchObject({ level: "error", path: "/events", request_id: "fail-9" });
  });

  test("at debug, each request's line names its id, errors included", async () => {
    const { log, lines } = capture();
    const app = createApp({ ...env.s, log, config: { ...env.config, LOG_LEVEL: "debug" } });
    const ok = await app.handle(new Request("http://localhost/health", { headers: { "x-request-id": "dbg-1" } }));
    const missing = await app.handle(new Request("http://localhost/gone"));
    const requests = () => lines.filter((l) => l.message === "request");
    await waitFor("both request lines", () => requests().length >= 2, 2000, 1); // written after the answer
    expect(requests()).toContainEqual(expect.objectContaining({ path: "/health", status: 200, request_id: "dbg-1" }));
    expect(requests()).toContainEqual(expect.objectContaining({ status: 404, request_id: idOf(missing) }));
    expect(idOf(ok)).toBe("dbg-1");
  });
});
