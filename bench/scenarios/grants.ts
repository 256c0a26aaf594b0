// grants: N people already queued for one ticket type with enough stock; the processor of the
// built binary drains them. At the configured batch size (several times: the median is the
// figure, as other services share this machine), and at batch size 1 (the per-person path),
// in the same run.
import { BenchEnv } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure } from "../stats";

const TYPE = 1;
const WARM_UP_TYPE = 2;

export async function grants(options: Options, progress: Progress): Promise<Result> {
  const runs = [];
  for (let run = 1; run <= options.runs; run++) {
    runs.push(await drain(options.n, options.batchSize, progress, `run ${run} of ${options.runs}`));
  }
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  const batched = sorted[Math.floor(sorted.length / 2)]!;
  const single = await drain(options.n1, 1, progress, "batch size 1");
  const ratio = batched.perSecond / single.perSecond;
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
    ],
    details: { runs, single },
  };
}

async function drain(n: number, batchSize: number, progress: Progress, label: string) {
  const env = await BenchEnv.create("grants");
  try {
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
    return {
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
