// expiry: M holds lapse at the same instant; how long after its deadline each hold's stock is
// back on sale (per hold, from PostgreSQL's own record), and when all of it is (seen from outside).
import { BenchEnv } from "../harness";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, summarize } from "../stats";

const TYPE = 1;

export async function expiry(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("expiry");
  const m = options.m;
  try {
    await env.queue(TYPE, m, (done) => progress.update(done / m / 3, `queueing ${done.toLocaleString()}`));
    await env.ticketType(TYPE, m);
    await env.start();
    await env.activate(TYPE);
    for (;;) {
      const [{ stock }] = await env.sql`SELECT stock FROM ticket_types WHERE id = ${TYPE}`;
      progress.update(1 / 3 + (m - stock) / m / 3, `granting ${(m - stock).toLocaleString()} holds`);
      if (stock === 0) break;
      await Bun.sleep(20);
    }
    // every hold falls due at the same instant, two seconds from now by PostgreSQL's clock
    const [{ deadline }] = await env.sql`
      UPDATE reservations SET expires_at = date_trunc('milliseconds', now()) + interval '2 seconds'
      WHERE ticket_type_id = ${TYPE} RETURNING expires_at AS deadline`;
    let allBackAt = 0;
    for (;;) {
      const [{ stock, at }] = await env.sql`SELECT stock, clock_timestamp() AS at FROM ticket_types WHERE id = ${TYPE}`;
      progress.update(2 / 3 + stock / m / 3, `${stock.toLocaleString()} of ${m.toLocaleString()} back on sale`);
      if (stock === m) {
        allBackAt = (at as Date).getTime();
        break;
      }
      await Bun.sleep(5);
    }
    const lags = await env.sql<{ lag: number }[]>`
      SELECT extract(epoch FROM ended_at - expires_at) * 1000 AS lag
      FROM reservations WHERE ticket_type_id = ${TYPE}`;
    const summary = summarize(lags.map((l) => Number(l.lag)));
    const invariants = await env.expectInvariants();
    return {
      figures: [
        figure("holds lapsing together", m, "holds"),
        figure("deadline to stock back p50", summary.p50, "ms"),
        figure("deadline to stock back p99", summary.p99, "ms", { op: "<=", value: 1000 }),
        figure("deadline to stock back max", summary.max, "ms"),
        figure("deadline to all stock seen back", allBackAt - (deadline as Date).getTime(), "ms", { op: "<=", value: 1000 }),
      ],
      details: { summary, invariants },
    };
  } finally {
    await env.close();
  }
}
