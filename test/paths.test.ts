// Paths no route has: a trailing slash, an empty segment, dot segments (also as %2e) are 404
// not_found, never a 405 naming a route nor that route's answer. Bun resolves dot segments in
// request.url after routing on the path as sent, so these go over a real socket too (fetch()
// would resolve them before sending).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import { listen, type Listening } from "../src/listen";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, type TestEnv } from "./helpers";

let env: TestEnv;
let server: Listening;
let eventId: number;
beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN });
  server = await listen(env.s, 0, false, null);
  const type = await env.ticketType({ capacity: 5 });
  [{ event_id: eventId }] = await env.sql`SELECT event_id FROM ticket_types WHERE id = ${type}`;
});
afterAll(async () => {
  await server?.stop();
  await env?.close();
});

type Answer = { status: number; headers: Record<string, string>; body: any };

/** One request written by hand on a TCP socket: the path goes out exactly as given. */
async function raw(method: string, path: string, extra: string[] = [], port = server.port): Promise<Answer> {
  const body = method === "POST" ? "{}" : "";
  const request = [
    `${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: ${ADMIN_AUTH.authorization}`,
    "Content-Type: application/json", `Content-Length: ${body.length}`, "Connection: close", ...extra, "", body,
  ].join("\r\n");
  const text = await new Promise<string>((resolve, reject) => {
    let received = "";
    void Bun.connect({
      hostname: "127.0.0.1", port,
      socket: {
        open: (socket) => void socket.write(request),
        data: (_socket, chunk) => void (received += chunk.toString()),
        close: () => resolve(received),
        error: (_socket, err) => reject(err),
      },
    });
  });
  const [head = "", rest = ""] = text.split("\r\n\r\n", 2);
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  let parsed: unknown = rest;
  try {
    parsed = JSON.parse(rest);
  } catch {}
  return { status: Number(statusLine!.split(" ")[1]), headers, body: parsed };
}

const inProcess = async (method: string, path: string): Promise<Answer> => {
  const res = await env.call(method, path, method === "POST" ? {} : undefined, ADMIN_AUTH);
  return { status: res.status, headers: Object.fromEntries(res.headers), body: res.body };
};

function expectNoRoute(res: Answer, what: string) {
  expect({ what, status: res.status, error: res.body?.error }).toEqual({ what, status: 404, error: "not_found" });
  expect(res.body.request_id).toBeString();
  expect(res.headers["allow"]).toBeUndefined();
}

const ODD = (id: number) => [
  `/admin/events/${id}/bookings/`, `/events/`, `/health/`, `/queue/join/`, `/events/.`, `/events//`, `//events`,
  `/x/../admin/events/${id}/bookings`, `/x/%2e%2e/admin/events/${id}/bookings`, `/x/%2E%2e/events`,
  `/./events`, `/%2e/events`, `/%2e%2e/events`, `/./`, `/admin/events/${id}/./bookings`, `/admin/x/../events/${id}/bookings`,
];

describe("a path no route has", () => {
  test("over a socket: 404 not_found for every method, never a route's answer or a 405", async () => {
    for (const path of ODD(eventId)) {
      for (const method of ["GET", "POST", "PATCH", "DELETE"]) expectNoRoute(await raw(method, path), `${method} ${path}`);
    }
  });

  test("in-process: a trailing slash or an empty segment is 404 not_found (dot segments the Request resolved itself)", async () => {
    for (const path of [`/admin/events/${eventId}/bookings/`, "/events/", "/health/", "/queue/join/", "/events/.", "/events//", "//events"]) {
      for (const method of ["GET", "POST"]) expectNoRoute(await inProcess(method, path), `${method} ${path}`);
    }
  });
});

describe("real routes", () => {
  test("still answer, and a real path asked with another method is still 405 with Allow", async () => {
    for (const call of [raw, inProcess]) {
      expect((await call("GET", "/events")).status).toBe(200);
      expect((await call("GET", "/health")).body).toEqual({ status: "ok" });
      expect((await call("GET", "/openapi")).status).toBe(200);
      const bookings = await call("GET", `/admin/events/${eventId}/bookings`);
      expect(bookings.status).toBe(200);
      expect(bookings.body.bookings).toEqual([]);
      const wrong = await call("POST", `/admin/events/${eventId}/bookings`);
      expect(wrong.status).toBe(405);
      expect(wrong.headers["allow"]).toBe("GET");
      for (const [method, path, allow] of [["POST", "/events", "GET"], ["GET", "/queue/join", "POST"], ["DELETE", "/openapi", "GET"]]) {
        const res = await call(method!, path!);
        expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 405, error: "method_not_allowed" });
        expect(res.headers["allow"]).toBe(allow!);
      }
      expect((await call("POST", "/nowhere")).status).toBe(404);
    }
    // the page is Bun's: GET answers it, POST is 405
    expect((await raw("GET", "/")).status).toBe(200);
    expect((await raw("POST", "/")).headers["allow"]).toBe("GET");
  });

  test("a CORS preflight over a socket still gets its answer", async () => {
    const origin = "https://shop.example.com";
    const app = createApp({ ...env.s, config: { ...env.config, CORS_ORIGINS: origin } }).listen({ port: 0, development: false });
    try {
      const res = await raw("OPTIONS", "/queue/join", [`Origin: ${origin}`, "Access-Control-Request-Method: POST"], app.server!.port);
      expect(res.status).toBe(204);
      expect(res.headers["access-control-allow-origin"]).toBe(origin);
    } finally {
      await app.stop();
    }
  });
});
