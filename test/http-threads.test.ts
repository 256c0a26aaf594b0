// HTTP_THREADS: one instance serves its port from several threads (Bun's reusePort), each
// with its own connections and streams, sharing one processor and one cleaner. A real serving
// process, a crowd over many connections, and the invariants at the end; rate limits counted
// once for the instance, whichever thread a connection lands on.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join as joinPath } from "node:path";
import { listeningPort } from "../bench/harness";
import { createTestEnv, exitWithin, REDIS_URL, waitFor, type TestEnv } from "./helpers";

const METRICS_TOKEN = "threads-test-metrics-token-".padEnd(40, "m");
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/** `ticket-queue serve` from source, logging every request (with the thread that served it). */
function serve(extra: Record<string, string>) {
  const child = Bun.spawn(["bun", joinPath(import.meta.dir, "..", "src", "main.ts"), "serve"], {
    env: {
      ...process.env, DATABASE_URL: env.config.DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX: env.config.REDIS_KEY_PREFIX,
      TOKEN_SECRET: env.config.TOKEN_SECRET, RESERVATION_TTL_SECONDS: "60", LOG_LEVEL: "debug",
      RATE_LIMITS: "off", // the crowd comes from one address
      METRICS_TOKEN,
      ...extra,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return child;
}

async function rest(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

test("two HTTP threads share the port: both serve a crowd, I1-I6 hold, SIGTERM stops them within 10 s", async () => {
  const child = serve({ PORT: "0", HTTP_THREADS: "2" });
  try {
    const reader = child.stdout.tee();
    const port = await listeningPort(reader[0]);
    const log = rest(reader[1]);
    const url = `http://127.0.0.1:${port}`;
    const type = await env.ticketType({ capacity: 150 });
    // whichever thread answers (a new connection each), /readyz is the instance's, both threads watched
    for (let i = 0; i < 6; i++) {
      const ready = (await (await fetch(`${url}/readyz`, { headers: { connection: "close" } })).json()) as { status: string; checks: Record<string, unknown> };
      expect(ready.status).toBe("ready");
      expect(Object.keys(ready.checks).sort()).toEqual(["cleaner", "http-2", "postgresql", "processor", "redis"]);
    }

    // a crowd over many connections: the kernel spreads them over both threads
    const tokens = await Promise.all(Array.from({ length: 400 }, async (_, i) => {
      const res = await fetch(`${url}/queue/join`, {
        method: "POST", headers: { "content-type": "application/json", connection: "close" },
        body: JSON.stringify({ user_id: `crowd-${i}`, ticket_type_id: type }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { queue_token: string }).queue_token;
    }));
    const statusOf = async (token: string) =>
      ((await (await fetch(`${url}/reservation/status?token=${token}`, { headers: { connection: "close" } })).json()) as { status: string }).status;
    // the rest wait: a hold may yet come back
    await waitFor("the 150 tickets held", async () =>
      (await Promise.all(tokens.map(statusOf))).filter((s) => s === "reserved").length === 150, 20_000, 200);
    const statuses = await Promise.all(tokens.map(statusOf));
    const held = tokens.filter((_, i) => statuses[i] === "reserved");
    expect(held).toHaveLength(150);
    // half confirm, half release, from both threads at once
    await Promise.all(held.map(async (token, i) => {
      const res = await fetch(`${url}/reservation/${i % 2 ? "confirm" : "release"}`, {
        method: "POST", headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ token }),
      });
      expect(res.status).toBe(200);
    }));

    // and /metrics sums every thread: the joins both threads took, whichever thread is scraped
    for (let i = 0; i < 6; i++) {
      const scrape = await (await fetch(`${url}/metrics`, { headers: { connection: "close", authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      expect(scrape).toContain(`ticketqueue_joins_total{ticket_type="${type}"} 400`);
      expect(scrape).toContain(`ticketqueue_confirmations_total{ticket_type="${type}"} 75`);
    }

    const signalled = performance.now();
    child.kill("SIGTERM");
    expect(await exitWithin(child, 10_000)).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(10_000);

    const lines = (await log).split("\n").filter((l) => l.includes('"message":"request"')).map((l) => JSON.parse(l) as { worker?: string });
    const byThread = Map.groupBy(lines, (l) => l.worker ?? "main");
    expect([...byThread.keys()].sort()).toEqual(["http-2", "main"]);
    for (const served of byThread.values()) expect(served.length).toBeGreaterThan(50);
    await env.expectInvariants();
    const [{ confirmed }] = await env.sql`SELECT count(*)::int AS confirmed FROM bookings WHERE ticket_type_id = ${type}`;
    expect(confirmed).toBe(75);
  } finally {
    child.kill("SIGKILL");
  }
}, 60_000);

test("with several threads a port already in use is still refused, not shared", async () => {
  const first = serve({ PORT: "0", HTTP_THREADS: "2", LOG_LEVEL: "info" });
  try {
    const port = await listeningPort(first.stdout);
    const second = serve({ PORT: String(port), HTTP_THREADS: "2", LOG_LEVEL: "info" });
    expect(await exitWithin(second, 15_000)).toBe(1);
    expect(await rest(second.stderr)).toContain(`port ${port} is already in use`);
  } finally {
    first.kill("SIGKILL");
  }
}, 40_000);

test("rate limits are the instance's, not each thread's: one client over many connections gets one burst", async () => {
  const child = serve({ PORT: "0", HTTP_THREADS: "2", RATE_LIMITS: "on", RATE_LIMIT_JOIN: "20,60", RATE_LIMIT_OPEN_STREAMS: "2" });
  try {
    const reader = child.stdout.tee();
    const port = await listeningPort(reader[0]);
    const log = rest(reader[1]);
    const url = `http://127.0.0.1:${port}`;
    const type = await env.ticketType({ capacity: 1 });
    // 60 joins from this one address, a new connection each: the kernel spreads them over both threads
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const res = await fetch(`${url}/queue/join`, {
        method: "POST", headers: { "content-type": "application/json", connection: "close" },
        body: JSON.stringify({ user_id: `burst-${i}`, ticket_type_id: type }),
      });
      return { status: res.status, body: (await res.json()) as { queue_token?: string } };
    }));
    const seconds = (performance.now() - started) / 1000;
    const passed = answers.filter((a) => a.status === 200);
    expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 429)).toBe(true);
    expect(passed.length).toBeGreaterThanOrEqual(20);
    expect(passed.length).toBeLessThanOrEqual(20 + Math.floor(seconds * 1)); // the burst + one a second refilled meanwhile

    // open streams: at most 2 for this address, whichever thread each lands on (the tokens wait: one ticket)
    const tokens = passed.map((a) => a.body.queue_token!);
    const streams = await Promise.all(tokens.slice(0, 8).map((token) => fetch(`${url}/reservation/stream?token=${encodeURIComponent(token)}`)));
    expect(streams.filter((s) => s.status === 200).length).toBe(2);
    expect(streams.filter((s) => s.status === 429).length).toBe(6);
    for (const s of streams) await s.body?.cancel();

    child.kill("SIGTERM");
    await child.exited;
    // both threads did serve: otherwise this would prove nothing
    const lines = (await log).split("\n").filter((l) => l.includes('"message":"request"')).map((l) => JSON.parse(l) as { worker?: string; path: string });
    const joinsBy = Map.groupBy(lines.filter((l) => l.path === "/queue/join"), (l) => l.worker ?? "main");
    expect([...joinsBy.keys()].sort()).toEqual(["http-2", "main"]);
  } finally {
    child.kill("SIGKILL");
  }
}, 60_000);
