// GET /readyz on a real listening service whose Redis and PostgreSQL are reached through proxies
// of this test's own (test/proxy.ts), so they can be cut and given back: 200 while all answer
// and both workers loop; 503 naming Redis or PostgreSQL while it is cut, 200 again once it is
// back; 503 naming a worker stuck on a row lock for longer than WORKER_STALL_MS. /health stays 200.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startService, type RunningService } from "../src/server";
import { WORKER_STALL_MS } from "../src/domain/timing";
import { createTestEnv, databaseUrl, deleteKeys, quietLog, REDIS_URL, waitFor, type TestEnv } from "./helpers";
import { parseMetrics, valueOf } from "./prometheus";
import { TcpProxy } from "./proxy";
import { subscribe, WebhookReceiver } from "./webhook-receiver";
import { LocalPostgres, LocalRedis } from "../scripts/local-servers";

const ADMIN_TOKEN = "readyz-test-admin-token-".padEnd(40, "a");

let env: TestEnv;
let service: RunningService;
let redisProxy: TcpProxy;
let pgProxy: TcpProxy;
let base: string;

beforeAll(async () => {
  redisProxy = await TcpProxy.start(REDIS_URL);
  pgProxy = await TcpProxy.start(databaseUrl("postgres"));
  env = await createTestEnv({
    REDIS_URL: redisProxy.url(REDIS_URL), DATABASE_URL: pgProxy.url(databaseUrl("postgres")), ADMIN_TOKEN, LOG_LEVEL: "error",
  });
  service = await startService({ ...env.config, PORT: 0 }, quietLog);
  base = `http://127.0.0.1:${service.port}`;
});
afterAll(async () => {
  redisProxy.restore();
  pgProxy.restore();
  await service.stop(5000);
  await env.close();
  await redisProxy.stop();
  await pgProxy.stop();
});

async function readyz(): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: await res.json() };
}

const ALL_OK = { redis: "ok", postgresql: "ok", processor: "ok", cleaner: "ok" };

/** Waits for /readyz to say `ready`, or not ready with `failing` among what fails; returns the last answer. */
async function until(ready: boolean, failing: string[] = [], timeoutMs = 20_000) {
  let last!: { status: number; body: any };
  await waitFor(`readyz to say ${ready ? "ready" : `not ready: ${failing}`}`, async () => {
    last = await readyz();
    if (ready) return last.status === 200;
    return last.status === 503 && failing.every((f) => last.body.failing.includes(f));
  }, timeoutMs, 100);
  return last;
}

async function expectLive() {
  expect((await fetch(`${base}/health`)).status).toBe(200);
}

test("ready while Redis, PostgreSQL and both workers are well", async () => {
  expect(await readyz()).toEqual({ status: 200, body: { status: "ready", failing: [], checks: ALL_OK } });
});

test("webhook receivers down or hanging, deliveries failing: still ready; the webhooks worker is not a readiness check", async () => {
  const hanging = await WebhookReceiver.start();
  hanging.behaviour = { hang: true };
  const down = await WebhookReceiver.start();
  const downUrl = down.url;
  await down.stop(); // its port refuses connections
  try {
    const endpoints = [await subscribe(env, hanging.url, ["*"]), await subscribe(env, downUrl, ["*"])];
    await env.sql`SELECT webhook_emit('ticket_type.updated', now(), '{}'::jsonb) FROM generate_series(1, 50)`;
    await waitFor("attempts failing and hanging", async () =>
      (await env.sql`SELECT 1 FROM webhook_deliveries WHERE last_error IS NOT NULL`).length > 0 && hanging.received.length > 0, 10_000, 100);
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready", failing: [], checks: ALL_OK } });
    await env.sql`UPDATE webhook_endpoints SET enabled = false WHERE id IN ${env.sql(endpoints.map((e) => e.id))}`;
  } finally {
    hanging.release();
    await hanging.stop();
  }
});

test("503 naming redis while Redis is cut off, ready again once it is back; the outage is counted", async () => {
  redisProxy.cut();
  const down = await until(false, ["redis"]);
  expect(down.body).toEqual({
    error: "not_ready", message: "not ready: redis", status: "not_ready", failing: ["redis"], checks: { ...ALL_OK, redis: "unreachable" },
  });
  await expectLive();
  // the processor steps every few ms: its rounds failed while Redis was away
  const counted = async (name: string) => {
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return valueOf(parseMetrics(await scraped.text()), name, { dependency: "redis", thread: "processor" }) ?? 0;
  };
  await waitFor("the processor's outage in /metrics", async () => (await counted("ticketqueue_dependency_outages_total")) >= 1, 10_000, 200);
  expect(await counted("ticketqueue_dependency_errors_total")).toBeGreaterThanOrEqual(1);
  redisProxy.restore();
  await until(true);
});

test("503 naming postgresql while PostgreSQL is cut off, ready again once it is back", async () => {
  pgProxy.cut();
  const down = await until(false, ["postgresql"]);
  expect(down.body.status).toBe("not_ready");
  expect(down.body.checks.postgresql).toBe("unreachable");
  await expectLive();
  pgProxy.restore();
  await until(true);
});

/** Holds the ticket type's row locked (as a long transaction of someone else's would) until release() is called. */
async function lockRow(ticketTypeId: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const done = env.sql.begin(async (sql) => {
    await sql`SELECT 1 FROM ticket_types WHERE id = ${ticketTypeId} FOR UPDATE`;
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await done;
  };
}

test("a worker stuck for longer than WORKER_STALL_MS is not ready; ready again once it moves", async () => {
  const type = await env.ticketType({ capacity: 5 });
  // the processor's grant waits on the row lock: its loop stops
  let unlock = await lockRow(type);
  const join = await fetch(`${base}/queue/join`, { method: "POST", body: JSON.stringify({ user_id: "stuck", ticket_type_id: type }) });
  const token = ((await join.json()) as any).queue_token;
  const stuckSince = Date.now();
  const stuck = await until(false, ["processor"], WORKER_STALL_MS + 10_000);
  expect(Date.now() - stuckSince).toBeGreaterThanOrEqual(WORKER_STALL_MS - 500); // not before its time
  expect(stuck.body).toMatchObject({ status: "not_ready", failing: ["processor"], checks: { ...ALL_OK, processor: "stalled" } });
  await expectLive();
  await unlock();
  await until(true);

  // the cleaner's refill waits on the row lock once the hold is past its deadline
  const status = async () => ((await (await fetch(`${base}/reservation/status?token=${encodeURIComponent(token)}`)).json()) as any).status;
  await waitFor("the hold", async () => (await status()) === "reserved");
  unlock = await lockRow(type);
  await env.backdate(token);
  const cleanerStuck = await until(false, ["cleaner"], WORKER_STALL_MS + 10_000);
  expect(cleanerStuck.body).toMatchObject({ status: "not_ready", failing: ["cleaner"], checks: { ...ALL_OK, cleaner: "stalled" } });
  await unlock();
  await until(true);
  await waitFor("the hold to expire", async () => (await status()) === "expired");
});

/** Asks an instance's /readyz until `ok` holds of the answer; returns it. */
async function readyzOf(port: number, what: string, ok: (status: number) => boolean, timeoutMs = 20_000) {
  let last!: { status: number; failing: string[] };
  await waitFor(what, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    last = { status: res.status, failing: ((await res.json()) as { failing: string[] }).failing };
    return ok(last.status);
  }, timeoutMs, 100);
  return last;
}

test("a Redis of the test's own stopped (the process, not a proxy): 503 naming redis, 200 once it runs again", async () => {
  const redis = await LocalRedis.start();
  const own = await createTestEnv({ REDIS_URL: redis.url, LOG_LEVEL: "error" });
  const instance = await startService({ ...own.config, PORT: 0 }, quietLog);
  try {
    await readyzOf(instance.port, "ready", (s) => s === 200);
    await redis.stop();
    const down = await readyzOf(instance.port, "readyz to name redis", (s) => s === 503, 10_000);
    expect(down.failing).toEqual(["redis"]);
    await redis.restart();
    await readyzOf(instance.port, "ready again", (s) => s === 200);
  } finally {
    await instance.stop(5000);
    await own.close();
    await redis.stop();
  }
}, 60_000);

test("a PostgreSQL of the test's own stopped: 503 naming postgresql, 200 once it runs again", async () => {
  const pg = await LocalPostgres.start();
  const prefix = `test:readyz-pg:${crypto.randomUUID().slice(0, 8)}:`;
  const instance = await startService({ ...env.config, DATABASE_URL: pg.url, REDIS_URL, REDIS_KEY_PREFIX: prefix, PORT: 0 }, quietLog);
  try {
    await readyzOf(instance.port, "ready", (s) => s === 200);
    await pg.down();
    const down = await readyzOf(instance.port, "readyz to name postgresql", (s) => s === 503, 10_000);
    expect(down.failing).toContain("postgresql");
    expect(down.failing).not.toContain("redis");
    await pg.up();
    await readyzOf(instance.port, "ready again", (s) => s === 200);
  } finally {
    await instance.stop(5000);
    await pg.stop();
    await deleteKeys(REDIS_URL, prefix);
  }
}, 60_000);
