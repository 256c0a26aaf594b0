// Each test file gets its own PostgreSQL database and its own Redis key prefix, both real,
// and removes them afterwards.
import { Cluster } from "ioredis";
import postgres from "postgres";
import { createApp, type App } from "../src/app";
import { loadConfig, type Config } from "../src/config/config";
import { withDatabase } from "../src/config/database-url";
import { createSql, migrate, type Sql } from "../src/store/db";
import { Cleaner } from "../src/expiry/cleaner";
import { checkInvariants } from "../src/store/invariants";
import { createLogger } from "../src/core/log";
import { batchContextOf, type BatchContext } from "../src/processing/batch";
import { Processor, type ProcessorOptions } from "../src/processing/processor";
import { UNBLOCK_CHECK_MS } from "../src/processing/schedule";
import { createRedis } from "../src/store/redis";
import { closeServices, createServices, type Services } from "../src/services";

export const BASE_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/**
 * TEST_REDIS=cluster runs every test env on the Redis Cluster in REDIS_CLUSTER_NODES
 * (scripts/with-services.ts starts one); single (the default) on the Redis at REDIS_URL.
 */
export const TEST_CLUSTER_NODES = process.env.TEST_REDIS === "cluster" ? process.env.REDIS_CLUSTER_NODES : undefined;
if (process.env.TEST_REDIS === "cluster" && !TEST_CLUSTER_NODES) throw new Error("TEST_REDIS=cluster needs REDIS_CLUSTER_NODES");
export const quietLog = createLogger((process.env.TEST_LOG_LEVEL as "debug") ?? "error");

const random = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);

export const databaseUrl = (name: string): string => withDatabase(BASE_DATABASE_URL, name);

async function withAdmin<T>(run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  try {
    return await run(admin);
  } finally {
    await admin.end({ timeout: 1 });
  }
}

export type TestEnv = {
  config: Config;
  s: Services;
  sql: Sql;
  app: App;
  dbName: string;
  /** A ticket type on a fresh event; returns its id. */
  ticketType(fields: { capacity: number; stock?: number; per_user_limit?: number; name?: string }): Promise<number>;
  /** Calls the app in-process and parses the JSON answer (`headers` are added to or replace the JSON content type). */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** POST with a JSON body, through call(). */
  post(path: string, body?: unknown): ReturnType<TestEnv["call"]>;
  /** A ticket type's stock in PostgreSQL. */
  stockOf(ticketTypeId: number): Promise<number>;
  batchContext(overrides?: Partial<BatchContext>): BatchContext;
  processor(options?: Partial<ProcessorOptions> & { batch?: Partial<BatchContext> }): Processor;
  cleaner(): Cleaner;
  /** Runs processor rounds until it has nothing left to do (one processor per env by default). */
  drain(processor?: Processor): Promise<void>;
  /** Moves a hold's deadline into the past, in PostgreSQL and in Redis (record and batch index) alike. */
  backdate(token: string): Promise<void>;
  expectInvariants(): Promise<void>;
  close(): Promise<void>;
};

/** A DATABASE_URL given in `env` says how to reach PostgreSQL (a proxy, say); the database is always new. */
export async function createTestEnv(env: Record<string, string> = {}): Promise<TestEnv> {
  const dbName = `tq_test_${random()}`;
  await withAdmin((admin) => admin`CREATE DATABASE ${admin(dbName)}`);
  const config = loadConfig({
    REDIS_URL,
    ...(TEST_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: TEST_CLUSTER_NODES } : {}),
    REDIS_KEY_PREFIX: `test:${random()}:`,
    TOKEN_SECRET: "test-secret-".padEnd(40, "x"),
    RESERVATION_TTL_SECONDS: "60",
    PROCESSOR_BATCH_SIZE: "100",
    CLEANER_INTERVAL_MS: "50",
    // Off unless a test turns them on: tests send thousands of requests from one client.
    RATE_LIMITS: "off",
    // One HTTP thread (the default is one per core): test/http-threads.test.ts runs several.
    HTTP_THREADS: "1",
    ...env,
    DATABASE_URL: withDatabase(env.DATABASE_URL ?? BASE_DATABASE_URL, dbName),
  });
  const s = createServices(config, quietLog);
  await s.redis.connect();
  await migrate(s.sql);
  const app = createApp(s);

  const batchContext = (overrides: Partial<BatchContext> = {}): BatchContext => ({
    ...batchContextOf(s),
    ...overrides,
  });

  const processor: TestEnv["processor"] = (options = {}) =>
    new Processor(batchContext(options.batch), {
      name: `test-${random()}`,
      activeKey: s.activeKey,
      log: quietLog,
      idleMs: 2,
      ...options,
    });

  // One processor for drain(): a new one each time would wait out the last one's lease.
  let drainer: Processor | null = null;

  const env_: TestEnv = {
    config,
    s,
    sql: s.sql,
    app,
    dbName,
    async ticketType({ capacity, stock = capacity, per_user_limit = 4, name = "Floor" }) {
      const [event] = await s.sql`INSERT INTO events (name) VALUES ('Test event') RETURNING id`;
      const [type] = await s.sql`
        INSERT INTO ticket_types (event_id, name, price, capacity, stock, per_user_limit)
        VALUES (${event!.id}, ${name}, 50, ${capacity}, ${stock}, ${per_user_limit}) RETURNING id`;
      return type!.id as number;
    },
    async call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      const response = await app.handle(new Request(`http://test${path}`, init));
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: response.status, body: parsed, headers: response.headers };
    },
    post: (path, body) => env_.call("POST", path, body),
    async stockOf(ticketTypeId) {
      return (await s.sql`SELECT stock FROM ticket_types WHERE id = ${ticketTypeId}`)[0]!.stock;
    },
    batchContext,
    processor,
    cleaner: () => new Cleaner({ ...s, intervalMs: config.CLEANER_INTERVAL_MS }),
    async drain(p = (drainer ??= processor())) {
      // Done when two rounds, a blocked-type check apart, find nothing to do and nothing in
      // flight. People may still be queued: behind outstanding holds they wait, by design.
      let quiet = 0;
      for (let round = 0; round < 5000 && quiet < 2; round++) {
        const handled = await p.tick();
        if (handled === 0 && (await inFlight(s)) === 0) {
          quiet++;
          await pause(UNBLOCK_CHECK_MS + 5); // the next round looks at blocked types again
        } else {
          quiet = 0;
        }
      }
      if (quiet < 2) throw new Error("the processor never went quiet");
    },
    async backdate(token) {
      // far enough back that reconciliation (which looks 2 s back) sees it too
      const [row] = await s.sql`
        UPDATE reservations SET expires_at = now() - interval '5 seconds' WHERE token = ${token}
        RETURNING ticket_type_id, expires_at`;
      const { ticketTypeId, id } = s.tokens.verify(token)!;
      const k = s.keys(ticketTypeId);
      const deadline = row!.expires_at.getTime();
      await s.redis.hset(k.record(id), "expires_at", deadline);
      const batch = await s.redis.hget(k.record(id), "batch");
      if (batch) await s.redis.zadd(k.deadlines, "LT", deadline, batch);
    },
    async expectInvariants() {
      const findings = await checkInvariants(s.sql);
      if (findings.length > 0) throw new Error(`invariants broken:\n${JSON.stringify(findings, null, 2)}`);
    },
    async close() {
      await deleteKeys(config.REDIS_URL, config.REDIS_KEY_PREFIX, config.REDIS_CLUSTER_NODES);
      await closeServices(s);
      await withAdmin((admin) => admin`DROP DATABASE IF EXISTS ${admin(dbName)} WITH (FORCE)`);
    },
  };
  return env_;
}

/** Batches in flight over every ticket type of this test. */
async function inFlight(s: Services): Promise<number> {
  const ids = (await s.sql<{ id: number }[]>`SELECT id FROM ticket_types`).map((r) => r.id);
  const counts = await Promise.all(ids.map((id) => s.redis.hlen(s.keys(id).inflight)));
  return counts.reduce((a, b) => a + b, 0);
}

/** Deletes every key under `prefix`: on a cluster, SCAN on each master (keys live where their slot does). */
export async function deleteKeys(redisUrl: string, prefix: string, clusterNodes?: string): Promise<void> {
  const redis = createRedis(redisUrl, clusterNodes);
  await redis.connect();
  const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
  for (const server of servers) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      // one by one: keys of many slots may not go in one command on a cluster
      await Promise.all(keys.map((key) => redis.unlink(key)));
      cursor = next;
    } while (cursor !== "0");
  }
  redis.disconnect();
}

/** Joins as a given user and returns the token (fails the test on anything but 200). */
export async function join(env: TestEnv, userId: string, ticketTypeId: number, quantity?: number): Promise<string> {
  const res = await env.call("POST", "/queue/join", { user_id: userId, ticket_type_id: ticketTypeId, quantity });
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.queue_token;
}

/** Joins `count` users, `${prefix}0` onwards, one after another (join order is place order). */
export async function joinMany(env: TestEnv, ticketTypeId: number, count: number, prefix: string, quantity?: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await join(env, `${prefix}${i}`, ticketTypeId, quantity));
  return tokens;
}

/**
 * Polls `check` until it holds, every `everyMs`; throws "timed out waiting for <what>" once
 * `timeoutMs` has passed without it.
 */
export async function waitFor(
  what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 25,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= until) throw new Error(`timed out waiting for ${what}`);
    await pause(everyMs); // the poll's pace
  }
}

/** A token's state in Redis as status reads it (a pending token whose batch holds reads as reserved). */
export async function redisStateOf(env: TestEnv, token: string): Promise<string> {
  const { ticketTypeId, id } = env.s.tokens.verify(token)!;
  const k = env.s.keys(ticketTypeId);
  return (await env.s.redis.scripts.lookup({ keys: k, id })).state ?? "";
}

export async function statusOf(env: TestEnv, token: string) {
  return (await env.call("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body;
}

/**
 * Checks that `check` keeps holding for `ms`, every `everyMs`; throws "<what> stopped holding"
 * the first time it does not. For what must NOT happen within a time: the one kind of wait
 * nothing observable can end early.
 */
export async function stays(
  what: string, check: () => boolean | Promise<boolean>, ms: number, everyMs = 25,
): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (!(await check())) throw new Error(`${what} stopped holding`);
    if (Date.now() >= until) return;
    await pause(Math.min(everyMs, until - Date.now())); // a window, by design
  }
}

/** Waits until the clock reads `at` (ms since the epoch): a sale's start the test set itself. */
export async function untilClock(at: number): Promise<void> {
  await pause(at - Date.now()); // the clock is what is waited for
}

/** A crowd arriving over time: `run(i)` starts `i * everyMs` after the first (load shape, not a wait). */
export function staggered<T>(count: number, everyMs: number, run: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => pause(i * everyMs).then(() => run(i))));
}

/** A child's exit code, or "still running" once `ms` has passed (a bound: the exit ends it early). */
export function exitWithin(child: { exited: Promise<number> }, ms: number): Promise<number | "still running"> {
  return Promise.race([child.exited, pause(ms).then(() => "still running" as const)]);
}

/**
 * A background loop: `step` at once, then again `everyMs` after each one ends, until stop()
 * (which waits for the step under way). For a sampler or a disturbance running beside a test.
 */
export function every(everyMs: number, step: () => unknown): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await step();
      await pause(everyMs); // the loop's pace
    }
  })();
  return {
    stop: () => {
      running = false;
      return loop;
    },
  };
}

/**
 * The one timer the helpers wait on; each caller says what its time is for (a poll's pace, a
 * window, a clock, a load's shape). Never a wait for something a test could observe instead.
 */
function pause(ms: number): Promise<void> {
  return Bun.sleep(Math.max(0, ms));
}

/** The admin token tests configure (ADMIN_TOKEN), and the header that carries it. */
export const ADMIN_TOKEN = "admin-test-token-".padEnd(40, "a");
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };
export { createSql };
