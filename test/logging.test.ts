// What a sale logs: grants per processor turn, bookings, releases and expiries at info, requests
// at debug, and a start-up line naming both stores and the URL; never a token or a password.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { createApp } from "../src/app";
import { describeUrl } from "../src/config/config";
import { Cleaner } from "../src/expiry/cleaner";
import type { Fields, Level, Logger } from "../src/core/log";
import { createTestEnv, databaseUrl, deleteKeys, REDIS_URL, stays, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

type Line = { level: Level; message: string; fields?: Fields };

function capture() {
  const lines: Line[] = [];
  const at = (level: Level) => (message: string, fields?: Fields) => void lines.push({ level, message, fields });
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

/** An app that logs into `log`, at debug. */
function appLoggingTo(log: Logger, overrides: Partial<TestEnv["s"]> = {}) {
  let requestLines = 0;
  const counted: Logger = { ...log, debug: (message, fields) => (message === "request" && requestLines++, log.debug(message, fields)) };
  const app = createApp({ ...env.s, log: counted, config: { ...env.config, LOG_LEVEL: "debug" }, ...overrides });
  return async (method: string, path: string, body?: unknown) => {
    const init: RequestInit = { method, headers: { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const before = requestLines;
    const res = await app.handle(new Request(`http://test${path}`, init));
    // the request line is written after the response
    await waitFor("the request line", () => requestLines > before, 2000, 1);
    return { status: res.status, body: (await res.json()) as any };
  };
}

test("each processor batch logs its counts: people, holds granted, sent back, sold out, stock left", async () => {
  const type = await env.ticketType({ capacity: 4 });
  const { log, lines } = capture();
  const call = appLoggingTo(log);
  const tokens: string[] = [];
  for (const [user, quantity] of [["a", 2], ["b", 1], ["c", 2]] as const) {
    tokens.push((await call("POST", "/queue/join", { user_id: user, ticket_type_id: type, quantity })).body.queue_token);
  }
  // a blocked head is retried after blockedRetryMs without a stock move (1 s by default)
  const processor = env.processor({ log, blockedRetryMs: 400 });
  await env.drain(processor);
  const turns = () => lines.filter((l) => l.message === "granted holds");
  // c asks for 2 with 1 left while 3 are held: sent back to wait for them
  expect(turns()).toEqual([{
    level: "info",
    message: "granted holds",
    fields: { ticket_type_id: type, people: 3, granted: 2, requeued: 1, sold_out: 0, over_limit: 0, stock_left: 1 },
  }]);

  // Both holds confirmed: c can never be served now. The probe, once the retry is due, says sold out.
  for (const token of tokens.slice(0, 2)) expect((await call("POST", "/reservation/confirm", { token })).status).toBe(200);
  await waitFor("the blocked head's probe", async () => {
    await processor.tick();
    return turns().length > 1;
  }, 5_000, 10);
  await env.drain(processor);
  expect(turns()[1]).toEqual({
    level: "info",
    message: "granted holds",
    fields: { ticket_type_id: type, people: 1, granted: 0, requeued: 0, sold_out: 1, over_limit: 0, stock_left: 1 },
  });
  await env.expectInvariants();
});

test("a turn of several batches logs one line per batch", async () => {
  const type = await env.ticketType({ capacity: 10 });
  const { log, lines } = capture();
  for (const user of ["p1", "p2", "p3", "p4", "p5"]) await env.post("/queue/join", { user_id: user, ticket_type_id: type });
  await env.drain(env.processor({ log, batch: { batchSize: 2 } }));
  const batches = lines.filter((l) => l.message === "granted holds" && l.fields?.ticket_type_id === type);
  expect(batches.map((l) => [l.fields!.people, l.fields!.granted])).toEqual([[2, 2], [2, 2], [1, 1]]);
  expect(batches.map((l) => l.fields!.stock_left)).toEqual([8, 6, 5]);
});

test("a booking, a released hold and a left queue place are logged, without tokens or user ids", async () => {
  const type = await env.ticketType({ capacity: 10 });
  const { log, lines } = capture();
  const call = appLoggingTo(log);
  const join = async (user: string, quantity: number) =>
    (await call("POST", "/queue/join", { user_id: user, ticket_type_id: type, quantity })).body.queue_token as string;
  const booker = await join("booker@example.com", 3);
  const giver = await join("giver@example.com", 2);
  await env.drain();
  const leaver = await join("leaver@example.com", 4);

  const booked = await call("POST", "/reservation/confirm", { token: booker });
  expect(booked.status).toBe(200);
  expect((await call("POST", "/reservation/release", { token: giver })).status).toBe(200);
  expect((await call("POST", "/reservation/release", { token: leaver })).status).toBe(200);

  const info = lines.filter((l) => l.level === "info");
  expect(info).toEqual([
    { level: "info", message: "booked", fields: { ticket_type_id: type, booking_id: booked.body.booking_id, quantity: 3 } },
    { level: "info", message: "released", fields: { ticket_type_id: type, quantity: 2, what: "hold" } },
    { level: "info", message: "released", fields: { ticket_type_id: type, quantity: 4, what: "queue place" } },
  ]);
  const logged = JSON.stringify(lines);
  for (const secret of [booker, giver, leaver, "example.com"]) expect(logged).not.toContain(secret);
});

test("at debug each request is a line with method, path, status and duration, never the query string", async () => {
  const type = await env.ticketType({ capacity: 10 });
  const { log, lines } = capture();
  const call = appLoggingTo(log);
  const token = (await call("POST", "/queue/join", { user_id: "q", ticket_type_id: type })).body.queue_token;
  expect((await call("GET", `/reservation/status?token=${token}`)).status).toBe(200);
  expect((await call("POST", "/reservation/confirm", { token: "not-a-token" })).status).toBe(404);
  expect((await call("POST", "/reservation/confirm", { nope: 1 })).status).toBe(400);

  const requests = lines.filter((l) => l.message === "request");
  expect(requests.map((l) => [l.level, l.fields!.method, l.fields!.path, l.fields!.status])).toEqual([
    ["debug", "POST", "/queue/join", 200],
    ["debug", "GET", "/reservation/status", 200],
    ["debug", "POST", "/reservation/confirm", 404],
    ["debug", "POST", "/reservation/confirm", 400],
  ]);
  for (const l of requests) expect(l.fields!.ms).toBeGreaterThanOrEqual(0);
  expect(JSON.stringify(lines)).not.toContain(token);

  // Not debug: no request lines at all.
  const quiet = capture();
  createApp({ ...env.s, log: quiet.log }).handle(new Request("http://test/health"));
  await stays("no line", () => quiet.lines.length === 0, 5, 1);
});

test("an unexpected failure logs the path, not the URL with its token", async () => {
  const { log, lines } = capture();
  const broken = () => { throw new Error("boom"); };
  const call = appLoggingTo(log, { keys: broken });
  const { token } = env.s.tokens.issue(1);
  expect((await call("GET", `/reservation/status?token=${token}`)).status).toBe(500);
  expect(lines.find((l) => l.level === "error")).toMatchObject({
    message: "request failed",
    fields: { method: "GET", path: "/reservation/status" },
  });
  expect(JSON.stringify(lines)).not.toContain(token);
});

test("a cleaner pass that expired holds says how many at info", async () => {
  const type = await env.ticketType({ capacity: 10 });
  const tokens = [];
  for (const user of ["x", "y"]) {
    tokens.push((await env.call("POST", "/queue/join", { user_id: user, ticket_type_id: type })).body.queue_token);
  }
  await env.drain();
  for (const token of tokens) await env.backdate(token);
  const { log, lines } = capture();
  await new Cleaner({ ...env.s, log, intervalMs: 1000 }).tick();
  expect(lines.filter((l) => l.message === "expired holds")).toEqual([
    { level: "info", message: "expired holds", fields: { expired: 2 } },
  ]);
  await new Cleaner({ ...env.s, log, intervalMs: 1000 }).tick();
  expect(lines.filter((l) => l.message === "expired holds")).toHaveLength(1); // nothing expired: no line
});

test("describeUrl names host, port and database, never the user's password", () => {
  expect(describeUrl("postgres://app:pg-pass@db.internal:5433/tickets?sslmode=require")).toBe("db.internal:5433/tickets");
  expect(describeUrl("postgresql://app:pg-pass@db.internal/tickets")).toBe("db.internal:5432/tickets");
  expect(describeUrl("rediss://default:redis-pass@cache:6380/2")).toBe("cache:6380/2");
  expect(describeUrl("redis://:redis-pass@cache")).toBe("cache:6379");
});

test("start-up names Redis, PostgreSQL and the URL it serves; passwords appear in no line", async () => {
  const dbName = `tq_test_log_${crypto.randomUUID().slice(0, 8)}`;
  const prefix = `test:log:${crypto.randomUUID().slice(0, 8)}:`;
  const pgUrl = new URL(databaseUrl(dbName));
  pgUrl.password = "pg-secret-7f3a"; // the test PostgreSQL and Redis take any password
  const redisUrl = new URL(REDIS_URL);
  redisUrl.password = "redis-secret-9c1d";
  const service = Bun.spawn(["bun", "src/main.ts", "serve", "--demo"], {
    env: {
      ...process.env,
      PORT: "0",
      LOG_LEVEL: "debug",
      DATABASE_URL: pgUrl.toString(),
      REDIS_URL: redisUrl.toString(),
      REDIS_KEY_PREFIX: prefix,
      TOKEN_SECRET: "logging-test-secret-0123456789abcdef",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) out.push(new TextDecoder().decode(chunk));
  };
  const reading = Promise.all([collect(service.stdout), collect(service.stderr)]);
  const lines = () => out.join("").split("\n").flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  const lineWhere = async (match: (l: any) => boolean) => {
    let found: any;
    const seen = () => (found = lines().find(match)) !== undefined || service.exitCode !== null;
    await waitFor("the line", seen, 15_000, 50).catch(() => {});
    if (found) return found;
    throw new Error(`no such line in:\n${out.join("")}`);
  };
  try {
    const started = await lineWhere((l) => l.message === "listening");
    expect(out.join("")).toMatch(/"message":"listening","port":\d+/); // as bench/harness.ts reads it
    expect(started).toMatchObject({
      level: "info",
      url: `http://localhost:${started.port}`,
      redis: `${redisUrl.hostname}:${redisUrl.port || 6379}`,
      postgres: `${pgUrl.hostname}:${pgUrl.port || 5432}/${dbName}`,
    });

    const base = `http://127.0.0.1:${started.port}`;
    const type = ((await (await fetch(`${base}/events`)).json()) as any)[0].ticket_types[0].id;
    await fetch(`${base}/queue/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: "someone", ticket_type_id: type }),
    });
    await fetch(`${base}/health?token=query-secret-5e2b`);
    // the processor's line comes from its worker, with its own logger
    expect(await lineWhere((l) => l.message === "granted holds")).toMatchObject({
      level: "info", worker: "processor", ticket_type_id: type, people: 1, granted: 1,
    });
    expect(await lineWhere((l) => l.message === "request" && l.path === "/health")).toMatchObject({
      level: "debug", method: "GET", status: 200,
    });
  } finally {
    service.kill("SIGTERM");
    await service.exited;
    await reading;
    await deleteKeys(REDIS_URL, prefix);
    const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
    await admin`DROP DATABASE IF EXISTS ${admin(dbName)} WITH (FORCE)`;
    await admin.end();
  }
  const all = out.join("");
  for (const secret of ["pg-secret-7f3a", "redis-secret-9c1d", "query-secret-5e2b"]) expect(all).not.toContain(secret);
}, 30_000);
