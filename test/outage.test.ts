// Outages while running: Redis or PostgreSQL goes away (the connection is cut), requests get a
// 503 JSON with Retry-After, and the service recovers by itself when the dependency returns.
// Start-up without a dependency says which and where, and exits non-zero.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSql } from "../src/store/db";
import { outageOf, toErrorResponse } from "../src/core/errors";
import { createRedis } from "../src/store/redis";
import { createTestEnv, databaseUrl, join, REDIS_URL, statusOf, waitFor, type TestEnv } from "./helpers";
import { TcpProxy } from "./proxy";

let env: TestEnv;
let redisProxy: TcpProxy;
let pgProxy: TcpProxy;

beforeAll(async () => {
  redisProxy = await TcpProxy.start(REDIS_URL);
  pgProxy = await TcpProxy.start(databaseUrl("postgres"));
  env = await createTestEnv({ REDIS_URL: redisProxy.url(REDIS_URL), DATABASE_URL: pgProxy.url(databaseUrl("postgres")) });
});
afterAll(async () => {
  redisProxy.restore();
  pgProxy.restore();
  await env.close();
  await redisProxy.stop();
  await pgProxy.stop();
});

/** Retries a request until it stops answering 503, as a client honouring Retry-After would. */
async function untilAvailable(request: () => Promise<{ status: number; body: any }>, timeoutMs = 15_000) {
  let res!: { status: number; body: any };
  await waitFor("an answer other than 503", async () => (res = await request()).status !== 503, timeoutMs, 100);
  return res;
}

function expectUnavailable(res: { status: number; body: any; headers: Headers }, dependency: string) {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: "unavailable", message: `${dependency} is unavailable; try again shortly`, request_id: expect.any(String) });
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
}

describe("Redis outage", () => {
  test("joins get 503 with Retry-After; holds still answer from PostgreSQL; then it recovers", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const held = await join(env, "r-held", type);
    await env.drain();

    redisProxy.cut();
    // joins sent together share one Redis call: each of them gets the 503
    const refused = await Promise.all(["r-new", "r-other"].map((user_id) => env.call("POST", "/queue/join", { user_id, ticket_type_id: type })));
    for (const res of refused) expectUnavailable(res, "Redis");
    expect(await statusOf(env, held)).toMatchObject({ status: "reserved" }); // PostgreSQL knows the hold
    expect((await env.call("POST", "/reservation/confirm", { token: held })).status).toBe(200); // PostgreSQL decides
    expect((await env.call("GET", "/events")).status).toBe(200);
    await expect(env.drain()).rejects.toThrow(); // the worker loop backs off on this

    redisProxy.restore();
    const res = await untilAvailable(() => env.call("POST", "/queue/join", { user_id: "r-new", ticket_type_id: type }));
    expect(res.status).toBe(200);
    await env.drain();
    expect((await statusOf(env, res.body.queue_token)).status).toBe("reserved");
    // the confirm made while Redis was away is reconciled into Redis by the cleaner
    await env.cleaner().tick();
    await env.expectInvariants();
  });
});

describe("PostgreSQL outage", () => {
  test("confirms get 503 with Retry-After; joins and queue status keep working; then it recovers", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const held = await join(env, "p-held", type);
    await env.drain();
    await env.call("GET", "/events"); // the catalog is warm

    pgProxy.cut();
    expectUnavailable(await env.call("POST", "/reservation/confirm", { token: held }), "PostgreSQL");
    expectUnavailable(await env.call("POST", "/reservation/release", { token: held }), "PostgreSQL");
    const queued = await join(env, "p-queued", type); // Redis alone serves a join
    expect(await statusOf(env, queued)).toMatchObject({ status: "queued", position: 1 });
    expect((await env.call("GET", "/events")).status).toBe(200); // a stale list beats none
    await expect(env.drain()).rejects.toThrow();

    pgProxy.restore();
    const res = await untilAvailable(() => env.call("POST", "/reservation/confirm", { token: held }));
    expect(res.status).toBe(200);
    await env.drain();
    expect((await statusOf(env, queued)).status).toBe("reserved");
    await env.expectInvariants();
  });
});

describe("start-up", () => {
  for (const [name, variable, url] of [
    ["Redis", "REDIS_URL", "redis://127.0.0.1:1"],
    ["PostgreSQL", "DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"],
  ] as const) {
    test(`without ${name} it says which and where, then exits non-zero`, async () => {
      const run = Bun.spawn(["bun", "src/main.ts", "serve", "--dev"], {
        // the other dependency is this suite's own (a reachable default database would be created)
        env: { ...process.env, DATABASE_URL: env.config.DATABASE_URL, [variable]: url, STARTUP_TIMEOUT_SECONDS: "1", LOG_LEVEL: "error" },
        stderr: "pipe",
        stdout: "pipe",
      });
      expect(await run.exited).toBe(1);
      expect(await new Response(run.stderr).text()).toContain(`${name} at 127.0.0.1:1`);
    });
  }
});

describe("errors are told by the client that raised them, not by their text or port", () => {
  test("a PostgreSQL refusing connections on a port other than 5432 is a PostgreSQL outage", async () => {
    const proxy = await TcpProxy.start(databaseUrl("postgres"));
    const sql = createSql(proxy.url(databaseUrl("postgres")), { max: 1 });
    try {
      await sql`SELECT 1`;
      await proxy.stop(); // cut, and nothing listens there any more
      // the open connection is closed; the next attempt to connect gets the socket's own error
      let err: unknown;
      for (let tries = 0; tries < 5 && (err as { code?: string } | undefined)?.code !== "ECONNREFUSED"; tries++) {
        err = await sql`SELECT 1`.then(() => null, (e: unknown) => e);
      }
      expect(err).toMatchObject({ code: "ECONNREFUSED", port: proxy.port });
      expect(proxy.port).not.toBe(5432);
      expect(outageOf(err, "PostgreSQL")).toBe("PostgreSQL");
      const res = toErrorResponse(err, () => {});
      expect(res.status).toBe(503);
      expect(res.body.message).toBe("PostgreSQL is unavailable; try again shortly");
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test("a Redis error reply is told by its first word: a script's error naming READONLY is no outage", async () => {
    const redis = createRedis(REDIS_URL);
    await redis.connect();
    const reply = (text: string) => redis.eval("return redis.error_reply(ARGV[1])", 0, text).then(() => null, (e: unknown) => e);
    try {
      expect(outageOf(await reply("READONLY You can not write against a read only replica."))).toBe("Redis");
      expect(outageOf(await reply("LOADING Redis is loading the dataset in memory"))).toBe("Redis");
      // a cluster's: mid-failover, a slot half moved, a script's slot gone from its node
      for (const text of ["CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys request during rehashing of slot",
        "ERR Error running script: Script attempted to access a non local key in a cluster node script: f_1"]) {
        expect(outageOf(await reply(text))).toBe("Redis");
      }
      expect(outageOf(new Error("Too many Cluster redirections. Last error: Error: Connection is closed."))).toBe("Redis");
      // one join of a call failed so, passed on in join-3.lua's reply (queue/join-batcher.ts)
      expect(outageOf(new Error("join-3.lua: ERR Script attempted to access a non local key in a cluster node script: f_1"))).toBe("Redis");
      expect(outageOf(new Error("Cluster isn't ready and enableOfflineQueue options is false"))).toBe("Redis");
      // two slots in one script is a bug, not an outage
      expect(outageOf(await reply("ERR Script attempted to access keys that do not hash to the same slot"))).toBeNull();
      const scriptError = await reply("ERR the script saw READONLY and LOADING in its data");
      expect(outageOf(scriptError)).toBeNull();
      expect(toErrorResponse(scriptError, () => {}).status).toBe(500);
    } finally {
      redis.disconnect();
    }
  });
});
