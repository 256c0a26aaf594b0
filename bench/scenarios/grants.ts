// grants: N people already queued for one ticket type with enough stock; the processor of the
// built binary drains them. At the configured batch size (several times: the median is the
// figure, as other services share this machine), and at batch size 1 (the per-person path),
// in the same run. Then N people spread over 6 hot ticket types, drained on one Redis and on a
// Redis Cluster (REDIS_CLUSTER_NODES, else one of 3 masters + 3 replicas started for it).
import { LocalRedisCluster } from "../../scripts/redis-cluster";
import { BenchEnv, nodesOf } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure } from "../stats";

const TYPE = 1;
const WARM_UP_TYPE = 2;
const HOT_TYPES = 6;
/** The hot types' ids (11-16): their hash tags fall on all three masters of a cluster. */
const HOT_IDS = Array.from({ length: HOT_TYPES }, (_, i) => 11 + i);
/** The benchmark's own cluster, when REDIS_CLUSTER_NODES names none: apart from the tests' and the fault suite's ports. */
const BENCH_CLUSTER_BASE_PORT = 7131;

export async function grants(options: Options, progress: Progress): Promise<Result> {
  const runs = [];
  for (let run = 1; run <= options.runs; run++) {
    runs.push(await drain(options.n, options.batchSize, progress, `run ${run} of ${options.runs}`));
  }
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  const batched = sorted[Math.floor(sorted.length / 2)]!;
  const single = await drain(options.n1, 1, progress, "batch size 1");
  const ratio = batched.perSecond / single.perSecond;
  const hot = await hotTypes(options.n, options.batchSize, progress);
  return {
    figures: [
      figure(`holds/s, batch size ${options.batchSize} (median of ${runs.length})`, batched.perSecond, "holds/s", { op: ">=", value: 50_000 }),
      figure(`holds/s, batch size ${options.batchSize}, slowest run`, sorted[0]!.perSecond, "holds/s"),
      figure(`holds/s, batch size ${options.batchSize}, fastest run`, sorted[sorted.length - 1]!.perSecond, "holds/s"),
      figure("holds/s, batch size 1", single.perSecond, "holds/s"),
      figure("batched / batch size 1", ratio, "x", { op: ">=", value: 30 }),
      figure("Redis script calls per batch", batched.scriptsPerBatch, "calls"),
      figure("PostgreSQL transactions writing holds, per batch", batched.transactionsPerBatch, "xacts"),
      figure("service CPU while draining", batched.cpu.service, "% of a core"),
      figure("Redis CPU while draining", batched.cpu.redis, "% of a core"),
      figure("PostgreSQL CPU while draining", batched.cpu.postgresql, "% of a core"),
      figure(`holds/s, ${HOT_TYPES} hot types, one Redis`, hot.single.perSecond, "holds/s"),
      figure(`holds/s, ${HOT_TYPES} hot types, Redis Cluster`, hot.cluster.perSecond, "holds/s"),
      figure(`${HOT_TYPES} hot types: cluster / one Redis`, hot.cluster.perSecond / hot.single.perSecond, "x"),
      figure(`Redis CPU, ${HOT_TYPES} hot types, one Redis`, hot.single.cpu.redis, "% of a core"),
      figure(`Redis CPU, ${HOT_TYPES} hot types, cluster (all 6 nodes)`, hot.cluster.cpu.redis, "% of a core"),
      figure(`service CPU, ${HOT_TYPES} hot types, one Redis`, hot.single.cpu.service, "% of a core"),
      figure(`service CPU, ${HOT_TYPES} hot types, cluster`, hot.cluster.cpu.service, "% of a core"),
    ],
    details: { runs, single, hot },
  };
}

/** What a variant of the drain adds: set-up on the fresh database, and figures read after it. */
export type DrainHooks<T extends object> = {
  prepare?: (env: BenchEnv) => Promise<void>;
  inspect?: (env: BenchEnv) => Promise<T>;
};

/** `n` people queued for one type, drained by the built binary (after a warm-up on another type). */
export async function drain<T extends object = object>(
  n: number, batchSize: number, progress: Progress, label: string, hooks: DrainHooks<T> = {}, scenario = "grants",
) {
  const env = await BenchEnv.create(scenario);
  try {
    await hooks.prepare?.(env);
    // The queue fills before the ticket type exists, so the processor cannot start early.
    await env.queue(TYPE, n, (done) => progress.update(done / n, `${label}: queueing ${done.toLocaleString()} people`));
    const service = await env.start({ PROCESSOR_BATCH_SIZE: String(batchSize) });
    // A sale meets a service that has been running: warm it up on another ticket type first.
    const warmUp = Math.ceil(n / 10);
    await env.queue(WARM_UP_TYPE, warmUp, () => progress.update(0, `${label}: warming the service up`));
    await env.ticketType(WARM_UP_TYPE, warmUp);
    await env.activate(WARM_UP_TYPE);
    while ((await env.sql`SELECT stock FROM ticket_types WHERE id = ${WARM_UP_TYPE}`)[0]!.stock > 0) await Bun.sleep(50);
    await env.ticketType(TYPE, n);
    const before = await scriptCalls(env);
    const { seconds, cpu } = await measureCpu(env.redis, service.pid, async () => {
      await env.activate(TYPE);
      for (;;) {
        const [{ stock }] = await env.sql`SELECT stock FROM ticket_types WHERE id = ${TYPE}`;
        progress.update((n - stock) / n, `${label}: ${(n - stock).toLocaleString()} of ${n.toLocaleString()} holds`);
        if (stock === 0) return;
        await Bun.sleep(batchSize === 1 ? 100 : 10);
      }
    });
    const after = await scriptCalls(env);
    // The holds of one transaction share its start time (now()): counting those counts the
    // transactions that wrote holds, exactly (PostgreSQL's own counters lag by seconds).
    const [{ transactions }] = await env.sql`
      SELECT count(DISTINCT created_at)::int AS transactions FROM reservations WHERE ticket_type_id = ${TYPE}`;
    const batches = Math.ceil(n / batchSize);
    const invariants = await env.expectInvariants();
    const inspected = ((await hooks.inspect?.(env)) ?? {}) as T;
    return {
      ...inspected,
      people: n,
      batchSize,
      seconds: Math.round(seconds * 1000) / 1000,
      perSecond: n / seconds,
      warm_up_holds: warmUp,
      scriptsPerBatch: (after - before) / batches,
      transactionsPerBatch: (transactions as number) / batches,
      cpu,
      invariants,
    };
  } finally {
    await env.close();
  }
}

/** Lua script calls so far, all clients. */
async function scriptCalls(env: BenchEnv): Promise<number> {
  const stats = await env.redis.info("commandstats");
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** `n` people over the hot types, drained by one service on one Redis, then on a Redis Cluster. */
async function hotTypes(n: number, batchSize: number, progress: Progress) {
  const single = await drainHot(n, batchSize, progress, "one Redis");
  const own = process.env.REDIS_CLUSTER_NODES ? null : new LocalRedisCluster(BENCH_CLUSTER_BASE_PORT);
  try {
    const started = await own?.start();
    const cluster = await drainHot(n, batchSize, progress, "Redis Cluster", process.env.REDIS_CLUSTER_NODES ?? own!.nodes);
    if (started) await own!.stop();
    return { single, cluster };
  } catch (err) {
    await own?.stop();
    throw err;
  }
}

async function drainHot(n: number, batchSize: number, progress: Progress, label: string, clusterNodes?: string) {
  const env = await BenchEnv.create("grants_hot", clusterNodes);
  try {
    const per = Math.ceil(n / HOT_TYPES);
    for (const [i, id] of HOT_IDS.entries()) {
      await env.queue(id, per, (done) => progress.update((i * per + done) / (per * HOT_TYPES), `${HOT_TYPES} hot types, ${label}: queueing`));
    }
    const service = await env.start({ PROCESSOR_BATCH_SIZE: String(batchSize) });
    const warmUp = Math.ceil(per / 10);
    await env.queue(WARM_UP_TYPE, warmUp, () => progress.update(0, `${HOT_TYPES} hot types, ${label}: warming the service up`));
    await env.ticketType(WARM_UP_TYPE, warmUp);
    await env.activate(WARM_UP_TYPE);
    while ((await env.sql`SELECT stock FROM ticket_types WHERE id = ${WARM_UP_TYPE}`)[0]!.stock > 0) await Bun.sleep(50);
    for (const id of HOT_IDS) await env.ticketType(id, per);
    const { seconds, cpu } = await measureCpu(env.redis, service.pid, async () => {
      for (const id of HOT_IDS) await env.activate(id);
      for (;;) {
        const [{ left }] = await env.sql`SELECT sum(stock)::int AS left FROM ticket_types WHERE id = ANY(${HOT_IDS})`;
        progress.update((per * HOT_TYPES - left) / (per * HOT_TYPES), `${HOT_TYPES} hot types, ${label}: ${(per * HOT_TYPES - left).toLocaleString()} holds`);
        if (left === 0) return;
        await Bun.sleep(10);
      }
    });
    return {
      people: per * HOT_TYPES, batchSize, seconds: Math.round(seconds * 1000) / 1000, perSecond: (per * HOT_TYPES) / seconds, cpu,
      masters: nodesOf(env.redis, "master").length, invariants: await env.expectInvariants(),
    };
  } finally {
    await env.close();
  }
}
