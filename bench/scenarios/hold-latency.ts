// hold-latency: people arrive at a steady rate well below capacity; each joins and then asks
// for its status every few ms until it holds tickets. Join-to-hold time as the client sees it.
// The first second after the service starts runs cold (JIT, first connections): arrivals for
// a warm-up ticket type fill it, reported apart; the figures with a target are the warm ones.
import { BenchEnv, type Service } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, latencyFigures, summarize } from "../stats";

const TYPE = 1;
const WARM_UP_TYPE = 2;
const WARM_UP_SECONDS = 1;
const POLL_MS = 5;

/** `failure`: what the first person who got no hold was answered. */
type Arrivals = { latencies: number[]; polls: number; failures: number; failure: string | null };

export async function holdLatency(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("hold-latency");
  try {
    const arrivals = options.rate * options.duration;
    const warmUpArrivals = options.rate * WARM_UP_SECONDS;
    await env.ticketType(TYPE, arrivals);
    await env.ticketType(WARM_UP_TYPE, warmUpArrivals);
    const service = await env.start();
    const cold = await arrive(service, WARM_UP_TYPE, warmUpArrivals, options.rate, (done) =>
      progress.update(0, `warming up: ${done.toLocaleString()} arrived`));
    const { result: warm, cpu } = await measureCpu(env.redis, service.pid, () =>
      arrive(service, TYPE, arrivals, options.rate, (done) =>
        progress.update(done / arrivals, `${options.rate} arrivals/s: ${done.toLocaleString()} arrived`)));
    const failures = cold.failures + warm.failures;
    if (failures > 0) throw new Error(`${failures} arrivals never got a hold (the first: ${cold.failure ?? warm.failure})`);
    const invariants = await env.expectInvariants();
    const summary = summarize(warm.latencies);
    const coldSummary = summarize(cold.latencies);
    return {
      figures: [
        figure("arrival rate", options.rate, "people/s"),
        ...latencyFigures("join to hold", summary, 100),
        figure("status polls per person", warm.polls / arrivals, "polls"),
        figure("first second after start (cold) p50", coldSummary.p50, "ms"),
        figure("first second after start (cold) p99", coldSummary.p99, "ms"),
        figure("load generator CPU", cpu.load_generator, "% of a core"),
      ],
      details: { arrivals, warm_up_arrivals: warmUpArrivals, poll_interval_ms: POLL_MS, summary, cold: coldSummary, cpu, invariants },
    };
  } finally {
    await env.close();
  }
}

/** `count` distinct people arriving at `rate` per second, each polling until it holds tickets. */
async function arrive(service: Service, ticketTypeId: number, count: number, rate: number, progress: (done: number) => void) {
  const result: Arrivals = { latencies: [], polls: 0, failures: 0, failure: null };
  const fail = (answer: string) => {
    result.failures++;
    result.failure ??= answer;
  };
  const person = async (i: number) => {
    const started = performance.now();
    const joined = await fetch(`${service.url}/queue/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: `arrival-${ticketTypeId}-${i}`, ticket_type_id: ticketTypeId }),
    });
    if (joined.status !== 200) return fail(`join: HTTP ${joined.status} ${await joined.text()}`);
    const { queue_token } = (await joined.json()) as { queue_token: string };
    for (;;) {
      const answer = await fetch(`${service.url}/reservation/status?token=${queue_token}`);
      if (answer.status !== 200) return fail(`status: HTTP ${answer.status} ${await answer.text()}`);
      const status = (await answer.json()) as { status: string };
      result.polls++;
      if (status.status === "reserved") return result.latencies.push(performance.now() - started);
      if (status.status !== "queued") return fail(`status: ${JSON.stringify(status)}`);
      await Bun.sleep(POLL_MS);
    }
  };
  const people: Promise<unknown>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    people.push(person(i));
    if (i % 100 === 0) progress(i);
  }
  await Promise.all(people);
  return result;
}
