// DATABASE_POOL_SIZE: the most PostgreSQL connections one instance opens, all its threads and
// workers together (issue #18, section 3). A real instance with 12 HTTP threads under a flood of
// confirms, watched from pg_stat_activity.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join as joinPath } from "node:path";
import { listeningPort } from "../bench/harness";
import { ConfigError, loadEnv } from "../src/config/config";
import { withParameter } from "../src/config/database-url";
import { poolShares } from "../src/store/db-pool";
import { createTestEnv, every, REDIS_URL, waitFor, type TestEnv } from "./helpers";

describe("sharing the pool out", () => {
  test("the shares add up to the pool, every thread gets at least one, the workers two when there is room", () => {
    for (const pool of [4, 5, 8, 20, 100]) {
      for (let threads = 1; threads <= pool - 3; threads++) {
        const s = poolShares(pool, threads);
        expect(s.main + s.http * (threads - 1) + s.processor + s.cleaner + s.webhooks).toBeLessThanOrEqual(pool);
        expect(Math.min(s.main, s.http, s.processor, s.cleaner, s.webhooks)).toBeGreaterThanOrEqual(1);
        expect(s.main).toBeGreaterThanOrEqual(s.http);
      }
    }
    expect(poolShares(20, 1)).toEqual({ main: 14, http: 14, processor: 2, cleaner: 2, webhooks: 2 });
    expect(poolShares(20, 12)).toEqual({ main: 3, http: 1, processor: 2, cleaner: 2, webhooks: 2 });
    expect(poolShares(20, 17)).toEqual({ main: 1, http: 1, processor: 1, cleaner: 1, webhooks: 1 });
  });

  test("HTTP_THREADS must fit the pool; by default it is cut to fit", () => {
    expect(() => loadEnv({ HTTP_THREADS: "18", DATABASE_POOL_SIZE: "20" })).toThrow(ConfigError);
    expect(() => loadEnv({ HTTP_THREADS: "18", DATABASE_POOL_SIZE: "20" })).toThrow("needs DATABASE_POOL_SIZE of at least 21");
    expect(loadEnv({ HTTP_THREADS: "17", DATABASE_POOL_SIZE: "20" }).HTTP_THREADS).toBe(17);
    expect(loadEnv({ DATABASE_POOL_SIZE: "4" }).HTTP_THREADS).toBe(1);
    expect(loadEnv({}).DATABASE_POOL_SIZE).toBe(20);
    for (const bad of ["3", "2", "0", "abc", "20.5", "1001"]) expect(() => loadEnv({ DATABASE_POOL_SIZE: bad })).toThrow("DATABASE_POOL_SIZE must be");
  });
});

describe("an instance with 12 HTTP threads under a flood of confirms", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  test("never more than DATABASE_POOL_SIZE connections in pg_stat_activity, and no 503 while PostgreSQL is up", async () => {
    const appName = `tq-pool-${crypto.randomUUID().slice(0, 8)}`;
    // postgres.js passes it on: its connections are told apart
    const url = withParameter(env.config.DATABASE_URL, "application_name", appName);
    const child = Bun.spawn(["bun", joinPath(import.meta.dir, "..", "src", "main.ts"), "serve"], {
      env: {
        ...process.env, DATABASE_URL: url, REDIS_URL, REDIS_KEY_PREFIX: env.config.REDIS_KEY_PREFIX,
        TOKEN_SECRET: env.config.TOKEN_SECRET, RESERVATION_TTL_SECONDS: "120", LOG_LEVEL: "info",
        RATE_LIMITS: "off", PORT: "0", HTTP_THREADS: "12", // DATABASE_POOL_SIZE: its default, 20
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    let peak = 0;
    const watch = every(5, async () => {
      const [{ n }] = await env.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${appName}`;
      peak = Math.max(peak, n);
    });
    try {
      const port = await listeningPort(child.stdout);
      const base = `http://127.0.0.1:${port}`;
      const post = (path: string, body: unknown) =>
        fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify(body) });
      const type = await env.ticketType({ capacity: 600 });
      const tokens = await Promise.all(Array.from({ length: 600 }, async (_, i) => {
        const res = await post("/queue/join", { user_id: `flood-${i}`, ticket_type_id: type });
        expect(res.status).toBe(200);
        return ((await res.json()) as { queue_token: string }).queue_token;
      }));
      await waitFor("600 holds", async () =>
        (await env.sql`SELECT count(*)::int AS n FROM reservations WHERE ticket_type_id = ${type}`)[0]!.n === 600, 30_000, 100);
      const statuses = await Promise.all(tokens.map(async (token) => (await post("/reservation/confirm", { token })).status));
      const byStatus = Map.groupBy(statuses, (s) => s);
      expect([...byStatus.keys()]).toEqual([200]);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(20);
      await env.expectInvariants();
    } finally {
      await watch.stop();
      child.kill("SIGKILL");
    }
  }, 240_000);
});
