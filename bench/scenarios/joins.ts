// joins: the built binary under C concurrent connections for D seconds, every request a
// distinct user joining a flash sale (a few thousand tickets, the crowd far larger); and in
// the same run the bare HTTP ceiling of the same server, a route that touches nothing.
// The rate limiter's cost, in the same run: a second instance with limits on takes turns with
// the first (limits off): off, on, off, on. The load comes from one address, so the "on"
// instance's join bucket is too large to ever refuse, while the limiter does all its work
// (the client's address, its bucket, the refill) on every join.
import autocannon from "autocannon";
import { BenchEnv, type Service } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, latencyFigures, type Summary } from "../stats";

const TYPE = 1;
/** A join bucket no load generator empties: a billion at once, a billion a minute. */
const NEVER_REFUSES = "999999999,999999999";

export async function joins(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("joins");
  try {
    await env.ticketType(TYPE, 5000);
    const service = await env.start({ RATE_LIMITS: "off" });
    const limited = await env.start({ RATE_LIMITS: "on", RATE_LIMIT_JOIN: NEVER_REFUSES });
    for (const s of [service, limited]) await load(s, options.connections, 2, "GET", "/health", null, progress, "warming up"); // JIT warm-up
    const bare = await measureCpu(env.redis, service.pid, () =>
      load(service, options.connections, options.duration, "GET", "/health", null, progress, "bare ceiling: GET /health"));
    let user = 0;
    const joinsOn = (s: Service, label: string) =>
      load(s, options.connections, options.duration, "POST", "/queue/join",
        () => JSON.stringify({ user_id: `crowd-${user++}`, ticket_type_id: TYPE }), progress, label);
    const off: LoadResult[] = [];
    const on: LoadResult[] = [];
    const joined = await measureCpu(env.redis, service.pid, () => joinsOn(service, "POST /queue/join, limits off"));
    off.push(joined.result);
    on.push(await joinsOn(limited, "POST /queue/join, limits on"));
    off.push(await joinsOn(service, "POST /queue/join, limits off"));
    on.push(await joinsOn(limited, "POST /queue/join, limits on"));
    for (const r of [...off, ...on]) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} joins were refused and ${r.errors} failed`);
    }
    await Bun.sleep(1500); // the processor serves the first few thousand
    const invariants = await env.expectInvariants();
    const ratio = joined.result.perSecond / bare.result.perSecond;
    const mean = (runs: LoadResult[]) => runs.reduce((sum, r) => sum + r.perSecond, 0) / runs.length;
    const limiterRatio = mean(on) / mean(off);
    return {
      figures: [
        figure("bare ceiling (GET /health)", bare.result.perSecond, "req/s"),
        figure("joins", joined.result.perSecond, "joins/s"),
        figure("joins / bare ceiling", ratio * 100, "%", { op: ">=", value: 50 }),
        ...off.map((r, i) => figure(`joins, limits off, run ${i + 1}`, r.perSecond, "joins/s")),
        ...on.map((r, i) => figure(`joins, limits on, run ${i + 1}`, r.perSecond, "joins/s")),
        figure("joins with limits on / off (means)", limiterRatio * 100, "%", { op: ">=", value: 95 }),
        ...latencyFigures(`join latency at ${options.connections} conns`, joined.result.latency, 20),
        figure("bare ceiling latency p99", bare.result.latency.p99, "ms"),
        figure("load generator CPU during joins", joined.cpu.load_generator, "% of a core"),
        figure("service CPU during joins", joined.cpu.service, "% of a core"),
        figure("Redis CPU during joins", joined.cpu.redis, "% of a core"),
      ],
      details: { bare: { ...bare.result, cpu: bare.cpu }, joins: { ...joined.result, cpu: joined.cpu }, limiter: { off, on }, invariants },
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
