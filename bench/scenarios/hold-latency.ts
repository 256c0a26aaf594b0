// hold-latency: people arrive at a steady rate well below capacity; each joins and then asks
// for its status every few ms until it holds tickets. Join-to-hold time as the client sees it.
import { BenchEnv } from "../harness";
import { measureCpu } from "../machine";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, latencyFigures, summarize } from "../stats";

const TYPE = 1;
const POLL_MS = 5;

export async function holdLatency(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("hold-latency");
  try {
    const arrivals = options.rate * options.duration;
    await env.ticketType(TYPE, arrivals);
    const service = await env.start();
    const latencies: number[] = [];
    let polls = 0;
    let failures = 0;

    const person = async (i: number) => {
      const started = performance.now();
      const joined = await fetch(`${service.url}/queue/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user_id: `arrival-${i}`, ticket_type_id: TYPE }),
      });
      const { queue_token } = (await joined.json()) as { queue_token: string };
      for (;;) {
        const status = (await (await fetch(`${service.url}/reservation/status?token=${queue_token}`)).json()) as { status: string };
        polls++;
        if (status.status === "reserved") return latencies.push(performance.now() - started);
        if (status.status !== "queued") return failures++;
        await Bun.sleep(POLL_MS);
      }
    };

    const { cpu } = await measureCpu(env.redis, service.pid, async () => {
      const people: Promise<unknown>[] = [];
      const start = performance.now();
      for (let i = 0; i < arrivals; i++) {
        const due = start + (i * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait > 1) await Bun.sleep(wait);
        people.push(person(i));
        if (i % 100 === 0) progress.update(i / arrivals, `${options.rate} arrivals/s: ${i.toLocaleString()} arrived`);
      }
      await Promise.all(people);
    });
    if (failures > 0) throw new Error(`${failures} arrivals never got a hold`);
    const invariants = await env.expectInvariants();
    const summary = summarize(latencies);
    return {
      figures: [
        figure("arrival rate", options.rate, "people/s"),
        ...latencyFigures("join to hold", summary, 100),
        figure("status polls per person", polls / arrivals, "polls"),
        figure("load generator CPU", cpu.load_generator, "% of a core"),
      ],
      details: { arrivals, poll_interval_ms: POLL_MS, summary, cpu, invariants },
    };
  } finally {
    await env.close();
  }
}
