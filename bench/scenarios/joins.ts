// joins: the built binary under C concurrent connections for D seconds, every request a
// distinct user joining a flash sale (a few thousand tickets, the crowd far larger); and in
// the same run the bare HTTP ceiling of the same server, a route that touches nothing.
// Three instances of one deployment take turns, three times each (--runs), in rotated order:
//  - one HTTP thread, limits off: the reference;
//  - one HTTP thread, limits on: the rate limiter's cost. The load comes from one address, so
//    its join bucket is too large to ever refuse, while the limiter does all its work (the
//    client's address, its bucket, the refill) on every join;
//  - two HTTP threads (HTTP_THREADS), limits off: what a second core of HTTP buys, and the
//    service's CPU per join and per bare request, from which a larger host is sized.
// Beside them a plain Bun.serve (bench/bare-server.ts) answering what GET /health answers,
// loaded the same way: the floor under the service's bare request, so the ratio of the two is
// what Elysia and our per-request hooks cost.
import autocannon from "autocannon";
import { BenchEnv, type Service } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, latencyFigures, type Summary } from "../stats";

const TYPE = 1;
/** A join bucket no load generator empties: a billion at once, a billion a minute. */
const NEVER_REFUSES = "999999999,999999999";

type Measured = { result: LoadResult; cpu: { service: number; service_main: number; load_generator: number; redis: number } };

export async function joins(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("joins");
  try {
    await env.ticketType(TYPE, 5000);
    const [one, limited, two] = await Promise.all([ // started together: a start takes seconds here
      env.start({ RATE_LIMITS: "off", HTTP_THREADS: "1" }),
      env.start({ RATE_LIMITS: "on", RATE_LIMIT_JOIN: NEVER_REFUSES, HTTP_THREADS: "1" }),
      env.start({ RATE_LIMITS: "off", HTTP_THREADS: "2" }),
    ]);
    const plain = await env.startBareServer();
    const instances = { "1 thread": one, "1 thread, limits on": limited, "2 threads": two };
    const warmUp = Math.min(2, options.duration);
    for (const s of [...Object.values(instances), plain]) await load(s, options.connections, warmUp, "GET", "/health", null, progress, "warming up"); // JIT warm-up
    const bareOf = (s: Service, label: string) => measureCpu(env.redis, s.pid, () =>
      load(s, options.connections, options.duration, "GET", "/health", null, progress, `bare ceiling: GET /health, ${label}`));
    const bare = { one: await bareOf(one, "1 thread"), plain: await bareOf(plain, "plain Bun.serve"), two: await bareOf(two, "2 threads") };
    let user = 0;
    const runs = new Map<string, Measured[]>(Object.keys(instances).map((k) => [k, []]));
    // rounds (three by default), the order rotated: in three, each instance runs first, second
    // and last once (whoever ran first in a round did up to 10% better, limits or not)
    const order = Object.entries(instances);
    for (let round = 0; round < options.runs; round++) {
      const turn = round % order.length;
      for (const [label, s] of [...order.slice(turn), ...order.slice(0, turn)]) {
        runs.get(label)!.push(await measureCpu(env.redis, s.pid, () =>
          load(s, options.connections, options.duration, "POST", "/queue/join",
            () => JSON.stringify({ user_id: `crowd-${user++}`, ticket_type_id: TYPE }), progress, `POST /queue/join, ${label}`)));
      }
    }
    for (const r of [...runs.values()].flat()) {
      if (r.result.non2xx > 0 || r.result.errors > 0) throw new Error(`${r.result.non2xx} joins were refused and ${r.result.errors} failed`);
    }
    await Bun.sleep(1500); // the processor serves the first few thousand
    const invariants = await env.expectInvariants();
    const mean = (label: string, pick: (m: Measured) => number) => {
      const list = runs.get(label)!;
      return list.reduce((sum, m) => sum + pick(m), 0) / list.length;
    };
    const perSecond = (label: string) => mean(label, (m) => m.result.perSecond);
    // core-µs of the service per request: its CPU share of a core over the requests it served
    const cpuPerRequest = (m: Measured) => (m.cpu.service / 100) * 1e6 / m.result.perSecond;
    const redisPerRequest = (m: Measured) => (m.cpu.redis / 100) * 1e6 / m.result.perSecond;
    // the main thread alone: with one HTTP thread, the HTTP side of the service's CPU
    const mainPerRequest = (m: Measured) => (m.cpu.service_main / 100) * 1e6 / m.result.perSecond;
    const first = runs.get("1 thread")![0]!;
    return {
      figures: [
        figure("bare ceiling (GET /health), 1 HTTP thread", bare.one.result.perSecond, "req/s"),
        figure("bare ceiling (GET /health), 2 HTTP threads", bare.two.result.perSecond, "req/s"),
        figure(`joins, 1 HTTP thread (mean of ${options.runs})`, perSecond("1 thread"), "joins/s"),
        figure(`joins, 2 HTTP threads (mean of ${options.runs})`, perSecond("2 threads"), "joins/s"),
        figure("joins / bare ceiling, 1 HTTP thread", (perSecond("1 thread") / bare.one.result.perSecond) * 100, "%", { op: ">=", value: 50 }),
        figure("joins, 2 HTTP threads / 1", (perSecond("2 threads") / perSecond("1 thread")) * 100, "%"),
        figure(`joins, limits on (mean of ${options.runs})`, perSecond("1 thread, limits on"), "joins/s"),
        figure("joins with limits on / off (1 thread, means)", (perSecond("1 thread, limits on") / perSecond("1 thread")) * 100, "%", { op: ">=", value: 95 }),
        figure("service CPU per join, 1 HTTP thread", mean("1 thread", cpuPerRequest), "core-µs", { op: "<=", value: 25 }),
        figure("service CPU per join, 2 HTTP threads", mean("2 threads", cpuPerRequest), "core-µs"),
        // steadier than joins/s between instances of one run (the limiter's cost, in CPU)
        figure("service CPU per join, 1 HTTP thread, limits on", mean("1 thread, limits on", cpuPerRequest), "core-µs"),
        figure("service CPU per join with limits on / off (1 thread)", (mean("1 thread, limits on", cpuPerRequest) / mean("1 thread", cpuPerRequest)) * 100, "%", { op: "<=", value: 105 }),
        figure("Redis CPU per join, 1 HTTP thread", mean("1 thread", redisPerRequest), "core-µs", { op: "<=", value: 12 }),
        figure("service CPU per bare request, 1 HTTP thread", cpuPerRequest(bare.one), "core-µs"),
        figure("plain Bun.serve, same answer as GET /health", bare.plain.result.perSecond, "req/s"),
        figure("plain Bun.serve CPU per request", cpuPerRequest(bare.plain), "core-µs"),
        // what Elysia and our per-request hooks cost on every request
        figure("service CPU per bare request / plain Bun.serve's, 1 HTTP thread", (cpuPerRequest(bare.one) / cpuPerRequest(bare.plain)) * 100, "%", { op: "<=", value: 130 }),
        figure("service CPU per bare request, 2 HTTP threads", cpuPerRequest(bare.two), "core-µs"),
        // where the service's CPU goes: its HTTP thread, and the rest (workers, Bun's JIT, GC and allocator threads)
        figure("HTTP thread CPU per join, 1 HTTP thread", mean("1 thread", mainPerRequest), "core-µs"),
        figure("HTTP thread CPU per bare request, 1 HTTP thread", mainPerRequest(bare.one), "core-µs"),
        figure("HTTP thread CPU per bare request / plain Bun.serve's", (mainPerRequest(bare.one) / cpuPerRequest(bare.plain)) * 100, "%"),
        ...latencyFigures(`join latency at ${options.connections} conns, 1 HTTP thread`, first.result.latency, 20),
        figure("bare ceiling latency p99, 1 HTTP thread", bare.one.result.latency.p99, "ms"),
        figure("load generator CPU during joins, 1 HTTP thread", mean("1 thread", (m) => m.cpu.load_generator), "% of a core"),
        figure("service CPU during joins, 1 HTTP thread", mean("1 thread", (m) => m.cpu.service), "% of a core"),
        figure("service CPU during joins, 2 HTTP threads", mean("2 threads", (m) => m.cpu.service), "% of a core"),
        figure("Redis CPU during joins, 1 HTTP thread", mean("1 thread", (m) => m.cpu.redis), "% of a core"),
      ],
      details: { bare, joins: Object.fromEntries(runs), invariants },
    };
  } finally {
    await env.close();
  }
}

type LoadResult = { perSecond: number; latency: Summary; requests: number; non2xx: number; errors: number };

/** autocannon against the service; `body` makes each request's body (a distinct user each). */
export async function load(
  service: Service, connections: number, seconds: number, method: "GET" | "POST", path: string,
  body: (() => string) | null, progress: Progress, label: string,
): Promise<LoadResult> {
  const stop = progress.timed(seconds * 1000, label);
  try {
    const result = await autocannon({
      url: service.url,
      connections,
      duration: seconds,
      requests: [{
        method,
        path,
        headers: { "content-type": "application/json" },
        ...(body && { setupRequest: (request: Record<string, unknown>) => ({ ...request, body: body() }) }),
      }],
    });
    return {
      perSecond: result.requests.total / seconds,
      latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, count: result.requests.total },
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
  } finally {
    stop();
  }
}
