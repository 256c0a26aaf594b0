// webhooks: one instance's webhooks worker delivering to a local receiver (Bun.serve in this
// process, verifying every signature with `standardwebhooks`, as a shop's receiver would), its
// endpoint registered through the admin API. Events are committed straight into the outbox with
// webhook_emit(), the function every trigger calls: the worker sees exactly the rows a sale or
// an operator's change writes, and making them costs a statement, so the figures are the
// worker's, not those of whatever makes events (a sale or admin PATCHes would take the CPU the
// worker needs on this machine). Two phases:
// - a burst: `3,000 x duration` events in one commit; deliveries per second while the worker
//   drains them (steady state: from the 10th to the 90th percentile of arrivals), its target
//   2,000 a second;
// - a steady pace: 500 events a second, in small commits every 20 ms for `duration` seconds;
//   the lag from each commit to the receiver, what a shop feels.
// Lag: from the moment the commit was acknowledged to this process to the moment the receiver
// had the request (one clock: everything runs on this machine).
// BENCH_WEBHOOK_ENV (JSON) passes settings to the instance, to measure one: WEBHOOK_POLL_MS, say.
import { Webhook } from "standardwebhooks";
import { BenchEnv, type Service } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, summarize } from "../stats";

const ADMIN_TOKEN = "bench-admin-token-".padEnd(40, "x");
const BURST_PER_SECOND_OF_DURATION = 3_000;
const PACE_PER_SECOND = 500;
const PACE_TICK_MS = 20;
const TARGET_PER_SECOND = 2_000;

/** What one commit carried: its events' number range and when it was acknowledged. */
type Commit = { first: number; count: number; at: number };

/** The receiver: verifies, records each event's first arrival (by its number in the data). */
class Receiver {
  readonly arrivals = new Map<number, number>();
  duplicates = 0;
  unverified = 0;
  private readonly server: ReturnType<typeof Bun.serve>;
  private verifier: Webhook | null = null;
  private waiting: { count: number; resolve: () => void } | null = null;

  constructor() {
    this.server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => this.handle(req) });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}/hook`;
  }

  set secret(secret: string) {
    this.verifier = new Webhook(secret);
  }

  private async handle(req: Request): Promise<Response> {
    const at = performance.timeOrigin + performance.now();
    const body = await req.text();
    let payload: { data: { n: number } };
    try {
      payload = this.verifier!.verify(body, Object.fromEntries(req.headers)) as typeof payload;
    } catch {
      this.unverified++;
      return new Response("bad signature", { status: 400 }); // retried: shows as a missing arrival
    }
    const n = payload.data.n;
    if (this.arrivals.has(n)) this.duplicates++;
    else this.arrivals.set(n, at);
    if (this.waiting && this.arrivals.size >= this.waiting.count) this.waiting.resolve();
    return new Response(null, { status: 204 });
  }

  /** Until `count` distinct events have arrived (or `ms` pass: then throws, saying how many did). */
  async until(count: number, ms: number): Promise<void> {
    if (this.arrivals.size >= count) return;
    let timer: Timer | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => (this.waiting = { count, resolve })),
        new Promise<never>((_, reject) => (timer = setTimeout(() =>
          reject(new Error(`${this.arrivals.size} of ${count} webhooks arrived within ${ms} ms (${this.unverified} unverified)`)), ms))),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiting = null;
    }
  }

  stop(): Promise<void> {
    return this.server.stop(true);
  }
}

export async function webhooks(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("webhooks");
  const receiver = new Receiver();
  try {
    const service = await env.start({ ADMIN_TOKEN, ...extraEnv() });
    receiver.secret = await register(service, receiver.url);
    let next = 1;
    /** Commits `count` events numbered on from `next`, one statement; returns the commit. */
    const commit = async (count: number): Promise<Commit> => {
      const first = next;
      next += count;
      await env.sql`
        SELECT webhook_emit('ticket_type.updated', now(), jsonb_build_object(
          'n', n, 'ticket_type_id', 1, 'event_id', 1, 'currency', 'EUR', 'name', 'Floor', 'price', 50,
          'capacity', 1000, 'per_user_limit', 4, 'paused', false, 'changes', jsonb_build_object('price', jsonb_build_array(45, 50)),
          'actor', 'bench'))
        FROM generate_series(${first}::int, ${first + count - 1}::int) n`;
      return { first, count, at: performance.timeOrigin + performance.now() };
    };
    const lagsOf = (commits: Commit[]) => commits.flatMap((c) =>
      Array.from({ length: c.count }, (_, i) => Math.max(0, receiver.arrivals.get(c.first + i)! - c.at)));

    // warm-up: the worker's first claims, the first connection to the receiver, the JIT
    await receiver.until((await commit(200)).count, 30_000);

    const burst = BURST_PER_SECOND_OF_DURATION * options.duration;
    progress.update(0, `committing a burst of ${burst.toLocaleString()}`);
    const before = receiver.arrivals.size;
    const transactionsBefore = await transactions(env);
    const burstCommit = await commit(burst); // the CPU its making costs PostgreSQL is not the drain's
    const { cpu: burstCpu, seconds: burstSeconds } = await measureCpu(env.redis, service.pid, async () => {
      const shown = setInterval(() => progress.update((receiver.arrivals.size - before) / burst / 2,
        `burst: ${(receiver.arrivals.size - before).toLocaleString()} of ${burst.toLocaleString()} delivered`), 200);
      try {
        await receiver.until(before + burst, 120_000);
      } finally {
        clearInterval(shown);
      }
    });
    await waitRecorded(env, next - 1);
    await Bun.sleep(1100); // backends report their counts at most once a second
    const burstTransactions = (await transactions(env)) - transactionsBefore;
    const burstTimes = Array.from({ length: burst }, (_, i) => receiver.arrivals.get(burstCommit.first + i)!).sort((a, b) => a - b);
    const at = (q: number) => burstTimes[Math.min(burst - 1, Math.floor(q * burst))]!;
    const steadyPerSecond = (0.8 * burst) / ((at(0.9) - at(0.1)) / 1000);
    const wholePerSecond = burst / ((at(1) - burstCommit.at) / 1000);
    const burstLag = summarize(lagsOf([burstCommit]));
    /** Deliveries per second in each tenth of the burst: does the pace hold as the backlog shrinks? */
    const byTenth = Array.from({ length: 10 }, (_, i) => Math.round((0.1 * burst) / ((at((i + 1) / 10) - (i === 0 ? burstCommit.at : at(i / 10))) / 1000)));

    const paced = PACE_PER_SECOND * options.duration;
    const perTick = (PACE_PER_SECOND * PACE_TICK_MS) / 1000;
    const pacedCommits: Commit[] = [];
    const started = performance.now();
    const { cpu: paceCpu } = await measureCpu(env.redis, service.pid, async () => {
      for (let tick = 0; tick * perTick < paced; tick++) {
        const wait = started + tick * PACE_TICK_MS - performance.now();
        if (wait > 1) await Bun.sleep(wait);
        pacedCommits.push(await commit(Math.min(perTick, paced - tick * perTick)));
        if (tick % 25 === 0) progress.update(0.5 + (tick * perTick) / paced / 2, `${PACE_PER_SECOND} events/s: ${(tick * perTick).toLocaleString()} committed`);
      }
      await receiver.until(next - 1, 30_000);
    });
    const paceSeconds = (pacedCommits.at(-1)!.at - pacedCommits[0]!.at) / 1000;
    const paceLag = summarize(lagsOf(pacedCommits));

    // every one recorded delivered in PostgreSQL too, none left pending or failed
    const recorded = await waitRecorded(env, next - 1);
    if (receiver.unverified > 0) throw new Error(`${receiver.unverified} requests failed signature verification`);
    return {
      figures: [
        figure("burst committed at once", burst, "webhooks"),
        figure("delivered/s, one instance (steady)", steadyPerSecond, "webhooks/s", { op: ">=", value: TARGET_PER_SECOND }),
        figure("delivered/s, commit to last", wholePerSecond, "webhooks/s"),
        figure("burst: commit to received p50", burstLag.p50, "ms"),
        figure("burst: commit to received p99", burstLag.p99, "ms"),
        figure("service CPU while draining", burstCpu.service, "% of a core"),
        figure("receiver CPU while draining", burstCpu.load_generator, "% of a core"),
        figure("PostgreSQL CPU while draining", burstCpu.postgresql, "% of a core"),
        figure("PostgreSQL transactions per delivery (claims, outcomes)", burstTransactions / burst, "transactions"),
        figure("steady pace", paced / Math.max(paceSeconds, 1e-3), "events/s"),
        figure("pace: commit to received p50", paceLag.p50, "ms"),
        figure("pace: commit to received p99", paceLag.p99, "ms"),
        figure("pace: commit to received max", paceLag.max, "ms"),
        figure("delivered twice (at least once allows it)", receiver.duplicates, "webhooks"),
      ],
      details: {
        burst, burst_seconds: burstSeconds, burst_transactions: burstTransactions, burst_lag: burstLag, burst_per_second_by_tenth: byTenth, burst_cpu: burstCpu,
        paced, pace_per_second: PACE_PER_SECOND, pace_tick_ms: PACE_TICK_MS, pace_lag: paceLag, pace_cpu: paceCpu,
        duplicates: receiver.duplicates, recorded,
      },
    };
  } finally {
    await receiver.stop();
    await env.close();
  }
}

/** Registers the receiver for ticket_type.updated through the admin API; returns its secret. */
async function register(service: Service, url: string): Promise<string> {
  const res = await fetch(`${service.url}/admin/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ url, events: ["ticket_type.updated"], description: "bench receiver" }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/webhooks: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { secret: string }).secret;
}

/** Transactions committed in this scenario's database so far (claims and outcome batches are one each). */
async function transactions(env: BenchEnv): Promise<number> {
  await env.sql`SELECT pg_stat_clear_snapshot()`;
  const [row] = await env.sql<{ n: string }[]>`SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()`;
  return Number(row!.n);
}

/** Waits until all `count` deliveries are recorded delivered (the 2xx is recorded a moment after it arrived). */
async function waitRecorded(env: BenchEnv, count: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [row] = await env.sql<{ delivered: number; other: number }[]>`
      SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status <> 'delivered')::int AS other
      FROM webhook_deliveries`;
    if (row!.delivered === count && row!.other === 0) return `${count} of ${count} recorded delivered`;
    if (Date.now() > deadline) throw new Error(`${row!.delivered} of ${count} recorded delivered, ${row!.other} not`);
    await Bun.sleep(50);
  }
}

/** Experiment only: BENCH_WEBHOOK_ENV='{"WEBHOOK_POLL_MS":"20"}' passes settings to the instance. */
function extraEnv(): Record<string, string> {
  return JSON.parse(process.env.BENCH_WEBHOOK_ENV ?? "{}");
}
