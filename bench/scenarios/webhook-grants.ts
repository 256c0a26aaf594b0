// webhook-grants: what hold.granted webhooks cost a grant (issue #21: at least 70% of the holds
// per second). The `grants` drain of one type, in pairs within one run: no webhook endpoint,
// then one enabled endpoint subscribed to hold.granted, whose trigger then writes one row per
// grant batch (sql/0012). The instance's webhooks worker expands those rows into deliveries and
// posts them to a receiver in this process (204 to each) while the grants go on: the cost of
// the whole path, on the same two cores. Then the same with a receiver that never answers.
import type { BenchEnv } from "../harness";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure } from "../stats";
import { drain, type DrainHooks } from "./grants";

type Deliveries = Awaited<ReturnType<typeof deliveries>>;

/** A receiver that answers 204 to everything, or (`hangs`) never answers; it counts the requests. */
function receiver(hangs: boolean) {
  let received = 0;
  const server = Bun.serve({
    port: 0, hostname: "127.0.0.1", idleTimeout: 0,
    fetch: () => (received++, hangs ? new Promise<Response>(() => {}) : new Response(null, { status: 204 })),
  });
  return { url: `http://127.0.0.1:${server.port}/hooks`, received: () => received, stop: () => server.stop(true) };
}

function subscribed(hangs = false): DrainHooks<Deliveries & { received: number }> {
  let hooked: ReturnType<typeof receiver> | null = null;
  return {
    async prepare(env) {
      hooked = receiver(hangs);
      await env.sql`
        INSERT INTO webhook_endpoints (url, events, secret)
        VALUES (${hooked.url}, ${["hold.granted"]}, ${"whsec_" + Buffer.from(env.secret).toString("base64")})`;
    },
    async inspect(env) {
      const counted = await deliveries(env);
      hooked?.stop();
      return { ...counted, received: hooked?.received() ?? 0 };
    },
  };
}
const NONE: DrainHooks<Deliveries> = { inspect: deliveries };

/**
 * The hold.granted deliveries made so far (expanded, and still in batches), their webhook-ids,
 * and the holds: each hold must have exactly one (one endpoint).
 */
async function deliveries(env: BenchEnv) {
  const [row] = await env.sql`
    SELECT (SELECT count(*) FROM webhook_deliveries WHERE event_type = 'hold.granted')
           + (SELECT coalesce(sum(cardinality(tokens)), 0) FROM webhook_grant_batches) AS deliveries,
           (SELECT count(DISTINCT message_id) FROM webhook_deliveries WHERE event_type = 'hold.granted')
           + (SELECT coalesce(sum(cardinality(tokens)), 0) FROM webhook_grant_batches) AS messages,
           (SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered') AS delivered`;
  const [{ holds }] = await env.sql`SELECT count(*)::int AS holds FROM reservations`;
  return {
    deliveries: Number(row!.deliveries), messages: Number(row!.messages), delivered: Number(row!.delivered), all_holds: holds as number,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function webhookGrants(options: Options, progress: Progress): Promise<Result> {
  type Drain = Awaited<ReturnType<typeof drain<Deliveries>>> & { received?: number };
  const none: Drain[] = [];
  const withEndpoint: Drain[] = [];
  const hanging: Drain[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const of = `${run} of ${options.runs}`;
    none.push(await drain(options.n, options.batchSize, progress, `no endpoint, ${of}`, NONE, "webhook_grants"));
    withEndpoint.push(await drain(options.n, options.batchSize, progress, `hold.granted subscribed, ${of}`, subscribed(), "webhook_grants"));
    hanging.push(await drain(options.n, options.batchSize, progress, `a receiver that hangs, ${of}`, subscribed(true), "webhook_grants"));
  }
  for (const run of [...withEndpoint, ...hanging]) {
    // every hold (the warm-up's too) has its one delivery, each its own webhook-id
    if (run.deliveries !== run.all_holds || run.messages !== run.all_holds) {
      throw new Error(`${run.all_holds} holds but ${run.deliveries} hold.granted deliveries (${run.messages} webhook-ids)`);
    }
  }
  if (none.some((run) => run.deliveries !== 0)) throw new Error("deliveries written with no endpoint");
  const without = median(none.map((r) => r.perSecond));
  const holdsWith = median(withEndpoint.map((r) => r.perSecond));
  const holdsHanging = median(hanging.map((r) => r.perSecond));
  return {
    figures: [
      figure(`holds/s, no endpoint (median of ${none.length})`, without, "holds/s"),
      figure(`holds/s, hold.granted subscribed (median of ${withEndpoint.length})`, holdsWith, "holds/s"),
      figure("subscribed / no endpoint", holdsWith / without, "x", { op: ">=", value: 0.7 }),
      figure("hold.granted webhooks received by the drain's end (last run)", withEndpoint.at(-1)!.received ?? 0, "webhooks"),
      // a receiver that never answers slows nothing: its requests wait in the webhooks worker
      figure(`holds/s, subscribed by a receiver that hangs (median of ${hanging.length})`, holdsHanging, "holds/s"),
      figure("hanging receiver / answering receiver", holdsHanging / holdsWith, "x"),
    ],
    details: { none, subscribed: withEndpoint, hanging, pairs: none.map((run, i) => withEndpoint[i]!.perSecond / run.perSecond) },
  };
}
