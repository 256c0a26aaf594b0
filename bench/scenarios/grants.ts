// grants: N people already queued for one ticket type with enough stock; the processor of the
// built binary drains them. Once at the configured batch size, once at batch size 1 (the
// per-person path), in the same run.
import { BenchEnv } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure } from "../stats";

const TYPE = 1;

export async function grants(options: Options, progress: Progress): Promise<Result> {
  const batched = await drain(options.n, options.batchSize, progress, "batch");
  const single = await drain(options.n1, 1, progress, "batch size 1");
  const ratio = batched.perSecond / single.perSecond;
  return {
    figures: [
      figure(`holds/s, batch size ${options.batchSize}`, batched.perSecond, "holds/s", { op: ">=", value: 50_000 }),
      figure("holds/s, batch size 1", single.perSecond, "holds/s"),
      figure("batched / batch size 1", ratio, "x", { op: ">=", value: 30 }),
      figure("Redis script calls per batch", batched.scriptsPerBatch, "calls"),
      figure("PostgreSQL transactions per batch", batched.transactionsPerBatch, "xacts"),
      figure("service CPU while draining", batched.cpu.service, "% of a core"),
      figure("Redis CPU while draining", batched.cpu.redis, "% of a core"),
      figure("PostgreSQL CPU while draining", batched.cpu.postgresql, "% of a core"),
    ],
    details: { batched, single },
  };
}

async function drain(n: number, batchSize: number, progress: Progress, label: string) {
  const env = await BenchEnv.create("grants");
  try {
    // The queue fills before the ticket type exists, so the processor cannot start early.
    await env.queue(TYPE, n, (done) => progress.update(done / n, `${label}: queueing ${done.toLocaleString()} people`));
    await env.ticketType(TYPE, n);
    const service = await env.start({ PROCESSOR_BATCH_SIZE: String(batchSize) });
    const before = await counters(env);
    let polls = 0;
    const { seconds, cpu } = await measureCpu(env.redis, service.pid, async () => {
      await env.activate(TYPE);
      for (;;) {
        polls++;
        const [{ stock }] = await env.sql`SELECT stock FROM ticket_types WHERE id = ${TYPE}`;
        progress.update((n - stock) / n, `${label}: ${(n - stock).toLocaleString()} of ${n.toLocaleString()} holds`);
        if (stock === 0) return;
        await Bun.sleep(batchSize === 1 ? 100 : 10);
      }
    });
    await Bun.sleep(1200); // PostgreSQL publishes its counters about once a second
    const after = await counters(env);
    const batches = Math.ceil(n / batchSize);
    const invariants = await env.expectInvariants();
    return {
      people: n,
      batchSize,
      seconds: Math.round(seconds * 1000) / 1000,
      perSecond: n / seconds,
      scriptsPerBatch: (after.scripts - before.scripts) / batches,
      // less our polls and the first counters query; the service's background queries (sweeps,
      // the cleaner: a few a second) remain, so this slightly overstates
      transactionsPerBatch: Math.max(0, after.transactions - before.transactions - polls - 1) / batches,
      cpu,
      invariants,
    };
  } finally {
    await env.close();
  }
}

/** Lua script calls (all clients) and committed transactions in this scenario's database. */
async function counters(env: BenchEnv) {
  const stats = await env.redis.info("commandstats");
  const scripts = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  const [{ xact_commit }] = await env.sql`SELECT xact_commit::int FROM pg_stat_database WHERE datname = current_database()`;
  return { scripts, transactions: xact_commit as number };
}
