// webhook-grants: what the hold.granted outbox costs a grant (issue #21: at least 70% of the
// holds per second). The `grants` drain of one type, in pairs within one run: no webhook
// endpoint, then one enabled endpoint subscribed to hold.granted, whose trigger then writes a
// delivery per hold in each grant batch's own statement (sql/0012). No delivery worker runs
// here: the deliveries stay pending, so this measures writing the outbox, not posting it.
import type { BenchEnv } from "../harness";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure } from "../stats";
import { drain, type DrainHooks } from "./grants";

type Deliveries = Awaited<ReturnType<typeof deliveries>>;

const SUBSCRIBED: DrainHooks<Deliveries> = {
  async prepare(env) {
    await env.sql`
      INSERT INTO webhook_endpoints (url, events, secret)
      VALUES ('https://shop.example/webhooks', ${["hold.granted"]}, ${"whsec_" + Buffer.from(env.secret).toString("base64")})`;
  },
  inspect: deliveries,
};
const NONE: DrainHooks<Deliveries> = { inspect: deliveries };

/** The deliveries written, and whether each hold got exactly one of its own (one endpoint). */
async function deliveries(env: BenchEnv) {
  const [row] = await env.sql`
    SELECT count(*)::int AS deliveries, count(DISTINCT message_id)::int AS messages,
           count(*) FILTER (WHERE status = 'pending')::int AS pending
    FROM webhook_deliveries WHERE event_type = 'hold.granted'`;
  const [{ holds }] = await env.sql`SELECT count(*)::int AS holds FROM reservations`;
  return {
    deliveries: row!.deliveries as number, messages: row!.messages as number, pending: row!.pending as number, all_holds: holds as number,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function webhookGrants(options: Options, progress: Progress): Promise<Result> {
  type Drain = Awaited<ReturnType<typeof drain<Deliveries>>>;
  const none: Drain[] = [];
  const subscribed: Drain[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const of = `${run} of ${options.runs}`;
    none.push(await drain(options.n, options.batchSize, progress, `no endpoint, ${of}`, NONE, "webhook_grants"));
    subscribed.push(await drain(options.n, options.batchSize, progress, `hold.granted subscribed, ${of}`, SUBSCRIBED, "webhook_grants"));
  }
  for (const run of subscribed) {
    // every hold (the warm-up's too) has its one delivery, each its own webhook-id
    if (run.deliveries !== run.all_holds || run.messages !== run.all_holds) {
      throw new Error(`${run.all_holds} holds but ${run.deliveries} hold.granted deliveries (${run.messages} webhook-ids)`);
    }
  }
  if (none.some((run) => run.deliveries !== 0)) throw new Error("deliveries written with no endpoint");
  const without = median(none.map((r) => r.perSecond));
  const withEndpoint = median(subscribed.map((r) => r.perSecond));
  return {
    figures: [
      figure(`holds/s, no endpoint (median of ${none.length})`, without, "holds/s"),
      figure(`holds/s, hold.granted subscribed (median of ${subscribed.length})`, withEndpoint, "holds/s"),
      figure("subscribed / no endpoint", withEndpoint / without, "x", { op: ">=", value: 0.7 }),
      figure("hold.granted deliveries written (pending: no worker)", subscribed.at(-1)!.deliveries, "rows"),
    ],
    details: { none, subscribed, pairs: none.map((run, i) => subscribed[i]!.perSecond / run.perSecond) },
  };
}
