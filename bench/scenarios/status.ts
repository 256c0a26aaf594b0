// status: a million people queued (the type is all held, so they wait); how fast status
// answers for people at the front, in the middle and at the back of the queue. Measured at
// a moderate load (the lookup's own cost, the target) and at 50 connections (saturation,
// where latency is mostly queueing on this machine).
import autocannon from "autocannon";
import { BenchEnv } from "../harness";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, type Figure } from "../stats";

const TYPE = 1;
const SAMPLE = 200;
const LOADS = [{ connections: 10, target: 5 }, { connections: 50, target: undefined }] as const;

export async function status(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("status");
  const n = options.queued;
  try {
    // One ticket, held: nobody queued can be served yet, and nobody is told it is sold out.
    await env.ticketType(TYPE, 1, 0);
    await env.sql`
      INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at)
      VALUES ('bench-holder', ${TYPE}, 'holder', 1, now() + interval '1 hour')`;
    const groups = {
      front: [1, SAMPLE],
      middle: [Math.floor(n / 2) - SAMPLE / 2 + 1, Math.floor(n / 2) + SAMPLE / 2],
      back: [n - SAMPLE + 1, n],
    } as const;
    const kept = await env.queue(
      TYPE, n, (done) => progress.update((done / n) * 0.7, `queueing ${done.toLocaleString()} people`),
      (place) => Object.values(groups).some(([first, last]) => place >= first && place <= last),
    );
    const service = await env.start();
    await env.activate(TYPE);

    const figures: Figure[] = [figure("people queued", n, "people")];
    const details: Record<string, unknown> = {};
    let step = 0;
    // A sale meets a service that has been running: warm it up (JIT) before measuring.
    const stopWarmUp = progress.timed(2000, "warming the service up");
    try {
      await lookups(service.url, [...kept.values()], 10, Math.min(2, options.duration));
    } finally {
      stopWarmUp();
    }
    for (const [name, [first, last]] of Object.entries(groups)) {
      const tokens = [...kept].filter(([place]) => place >= first && place <= last).map(([, token]) => token);
      const sample = (await (await fetch(`${service.url}/reservation/status?token=${tokens[0]}`)).json()) as { status: string; position: number };
      if (sample.status !== "queued") throw new Error(`expected ${name} of the queue to be queued, got ${JSON.stringify(sample)}`);
      for (const { connections, target } of LOADS) {
        const stop = progress.timed(options.duration * 1000, `status at the ${name} (position ~${sample.position.toLocaleString()}), ${connections} connections`);
        let result: Awaited<ReturnType<typeof autocannon>>;
        try {
          result = await lookups(service.url, tokens, connections, options.duration);
        } finally {
          stop(); // autocannon's result is thenable but has no finally
        }
        progress.update(0.7 + (++step / (3 * LOADS.length)) * 0.3, `status at the ${name} done`);
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`status at the ${name}: ${result.non2xx} refused, ${result.errors} failed`);
        const label = `${name} (position ~${sample.position.toLocaleString()}), ${connections} conns`;
        figures.push(
          figure(`${label} p50`, result.latency.p50, "ms"),
          figure(`${label} p99`, result.latency.p99, "ms", target === undefined ? undefined : { op: "<=", value: target }),
          figure(`${label} lookups`, result.requests.total / options.duration, "req/s"),
        );
        details[`${name}_${connections}`] = { position: sample.position, latency: result.latency, perSecond: result.requests.total / options.duration };
      }
    }
    details.invariants = await env.expectInvariants();
    return { figures, details };
  } finally {
    await env.close();
  }
}

/** Status lookups flat out over `connections`, cycling through `tokens`. */
function lookups(url: string, tokens: string[], connections: number, seconds: number) {
  let next = 0;
  return autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ method: "GET", setupRequest: (r: Record<string, unknown>) => ({ ...r, path: `/reservation/status?token=${tokens[next++ % tokens.length]}` }) }],
  });
}
