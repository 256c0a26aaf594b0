// streams: S open streams (GET /reservation/stream) on one instance, for people queued behind
// one hot ticket type. While nothing changes (its one ticket is held), Redis commands per second
// with 0, 10% of S and S streams open (target: flat) and the service's memory per stream. Then
// stock arrives and the processor drains the queue: the lag from each hold's grant (its
// PostgreSQL row) to its stream's `reserved` message; the holds lapse a few seconds later and
// every stream must see its final status (`expired`) and be closed by the server.
// The streams are raw HTTP/1.1 connections (Bun.connect): fetch() caps its requests in flight.
import { readFileSync } from "node:fs";
import { BenchEnv, REDIS_URL, type Service } from "../harness";
import { countCommands } from "../monitor";
import type { Progress } from "../progress";
import type { Options, Result } from "../scenario";
import { figure, latencyFigures, summarize } from "../stats";

const TYPE = 1;
/** Seconds each idle measurement lasts at most (the HTTP loads' duration when shorter). */
const IDLE_SECONDS = 5;
/** Streams opened at once while filling up. */
const OPENING_AT_ONCE = 500;

export async function streams(options: Options, progress: Progress): Promise<Result> {
  const env = await BenchEnv.create("streams");
  const n = options.streams;
  const holdSeconds = options.hold;
  const idleSeconds = Math.min(IDLE_SECONDS, options.duration);
  const open: StreamClient[] = [];
  try {
    // One ticket, held for an hour: nobody queued can be served yet, nobody is told sold out.
    await env.ticketType(TYPE, 1, 0);
    await env.sql`
      INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at)
      VALUES ('bench-holder', ${TYPE}, 'holder', 1, now() + interval '1 hour')`;
    const kept = await env.queue(TYPE, n, (done) => progress.update((done / n) * 0.1, `queueing ${done.toLocaleString()} people`), () => true);
    const tokens = [...kept.values()];
    const service = await env.start({ RESERVATION_TTL_SECONDS: String(holdSeconds) });
    await env.activate(TYPE);
    await Bun.sleep(1000); // the processor finds the type blocked, and waits

    const idle: { streams: number; commands: number; by: Record<string, number>; rssKiB: number }[] = [];
    const measureIdle = async (label: string) => {
      await Bun.sleep(1000); // the last first messages settle
      const stop = progress.timed(idleSeconds * 1000, `${label}: counting Redis commands`);
      try {
        const { total, by } = await commandsPerSecond(env.prefix, idleSeconds);
        idle.push({ streams: open.length, commands: total, by, rssKiB: rssKiB(service.pid) });
      } finally {
        stop();
      }
    };
    await measureIdle("no streams");
    for (const target of [Math.round(n / 10), n]) {
      while (open.length < target) {
        const wave = tokens.slice(open.length, Math.min(target, open.length + OPENING_AT_ONCE)).map((t) => StreamClient.open(service, t));
        open.push(...wave);
        await Promise.all(wave.map((s) => s.firstMessage));
        progress.update(0.1 + (open.length / n) * 0.4, `${open.length.toLocaleString()} streams open`);
      }
      const notQueued = open.filter((s) => s.statuses[0]?.status !== "queued").length;
      if (notQueued > 0) throw new Error(`${notQueued} streams did not start queued`);
      await measureIdle(`${open.length.toLocaleString()} streams`);
    }
    const idleMessages = open.reduce((sum, s) => sum + s.statuses.length - 1, 0);

    // Stock for everyone: the processor drains the queue.
    await env.sql`UPDATE ticket_types SET capacity = capacity + ${n}, stock = stock + ${n} WHERE id = ${TYPE}`;
    const drained = Date.now();
    await waitUntil(() => open.every((s) => s.reservedAt !== null), 30_000, () =>
      progress.update(0.5 + (open.filter((s) => s.reservedAt !== null).length / n) * 0.25, "draining: reserved messages"));
    const grants = await env.sql<{ token: string; granted: number }[]>`
      SELECT token, extract(epoch FROM created_at) * 1000 AS granted FROM reservations
      WHERE ticket_type_id = ${TYPE} AND token <> 'bench-holder'`;
    const grantedAt = new Map(grants.map((g) => [g.token, Number(g.granted)]));
    const lags = open.map((s) => s.reservedAt! - grantedAt.get(s.token)!);
    const drainSeconds = (Math.max(...grants.map((g) => Number(g.granted))) - drained) / 1000;

    // The holds lapse; the cleaner expires them; every stream gets its final status and ends.
    await waitUntil(() => open.every((s) => s.ended), (holdSeconds + 30) * 1000, () =>
      progress.update(0.75 + (open.filter((s) => s.ended).length / n) * 0.25, "holds lapsing: final statuses"));
    const finals = open.map((s) => s.statuses.at(-1)?.status);
    const notExpired = finals.filter((f) => f !== "expired").length;
    if (notExpired > 0) throw new Error(`${notExpired} streams ended without an expired message`);
    // from the deadline: a stream says expired once the cleaner has expired the hold (its
    // notice), or on its own a second after the deadline if the cleaner has not got to it yet
    const holds = await env.sql<{ token: string; deadline: number; ended: number | null }[]>`
      SELECT token, extract(epoch FROM expires_at) * 1000 AS deadline, extract(epoch FROM ended_at) * 1000 AS ended
      FROM reservations WHERE ticket_type_id = ${TYPE} AND token <> 'bench-holder'`;
    const holdOf = new Map(holds.map((h) => [h.token, h]));
    const finalLags = open.map((s) => s.finalAt! - Number(holdOf.get(s.token)!.deadline));
    // the change itself, for holds the cleaner expired first (the rest were told on their own)
    const expiredByCleaner = open.filter((s) => holdOf.get(s.token)!.ended !== null);
    const changeLags = expiredByCleaner.map((s) => s.finalAt! - Number(holdOf.get(s.token)!.ended));
    const cleanerSummary = summarize(holds.filter((h) => h.ended !== null).map((h) => Number(h.ended) - Number(h.deadline)));
    const invariants = await env.expectInvariants();

    const summary = summarize(lags);
    const finalSummary = summarize(finalLags);
    const changeSummary = summarize(changeLags);
    const [none, some, all] = idle;
    const perStreamKiB = (all!.rssKiB - none!.rssKiB) / n;
    return {
      figures: [
        figure("streams open", n, "streams"),
        // in all: mostly the processor polling for waiting types, which varies with the CPU it gets
        ...idle.map((m) => figure(`Redis commands/s in all, ${m.streams.toLocaleString()} streams`, m.commands, "cmd/s")),
        ...idle.map((m, i) => figure(`Redis commands/s for streams, ${m.streams.toLocaleString()} streams`, streamsShare(m.by), "cmd/s",
          i === idle.length - 1 ? { op: "<=", value: streamsShare(some!.by) + 0.5 } : undefined)),
        figure("service memory per open stream", perStreamKiB, "KiB"),
        figure("drain (grants of everyone)", drainSeconds, "s"),
        ...latencyFigures("grant to reserved message", summary, 1000),
        figure("streams that saw their final status", open.filter((s) => s.ended && s.finalAt !== null).length, "streams", { op: ">=", value: n }),
        figure("hold deadline to expired message p50", finalSummary.p50, "ms"),
        figure("hold deadline to expired message p99", finalSummary.p99, "ms"),
        figure("hold deadline to expired in PostgreSQL (cleaner) p50", cleanerSummary.p50, "ms"),
        figure("hold deadline to expired in PostgreSQL (cleaner) p99", cleanerSummary.p99, "ms"),
        ...latencyFigures("expired in PostgreSQL to expired message", changeSummary, 1000),
      ],
      details: {
        idle, idle_messages: idleMessages, summary, final_summary: finalSummary, hold_seconds: holdSeconds, idle_seconds: idleSeconds,
        deadline_to_expired_in_postgresql: cleanerSummary, expired_to_message: changeSummary,
        expired_by_cleaner_first: expiredByCleaner.length,
        service_rss_kib: { before: none!.rssKiB, with_streams: all!.rssKiB }, invariants,
      },
    };
  } finally {
    for (const s of open) s.close();
    await env.close();
  }
}

/** The streams' own commands: the marks read each tick, look-ups (lookup-2.lua) and place reads. */
function streamsShare(by: Record<string, number>): number {
  return (by["hmget meta"] ?? 0) + (by["evalsha reservation"] ?? 0) + (by["hget reservation"] ?? 0);
}

/** Commands on this scenario's keys per second, in all and by command. */
async function commandsPerSecond(prefix: string, seconds: number): Promise<{ total: number; by: Record<string, number> }> {
  const { total, by } = await countCommands(REDIS_URL, prefix, seconds * 1000);
  return { total: total / seconds, by: Object.fromEntries(Object.entries(by).map(([name, n]) => [name, n / seconds])) };
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function waitUntil(done: () => boolean, timeoutMs: number, tick: () => void): Promise<void> {
  for (const until = Date.now() + timeoutMs; !done(); await Bun.sleep(50)) {
    if (Date.now() > until) throw new Error("timed out");
    tick();
  }
}

/** One stream over a raw socket: the status messages as they came, when reserved and the final one arrived. */
class StreamClient {
  readonly statuses: { status: string }[] = [];
  reservedAt: number | null = null;
  finalAt: number | null = null;
  ended = false;
  readonly firstMessage: Promise<void>;
  private socket: { end(): void } | null = null;
  private text = "";
  private headersDone = false;
  private body = "";
  private gotFirst!: () => void;
  private failed!: (err: Error) => void;

  private constructor(readonly token: string) {
    this.firstMessage = new Promise((resolve, reject) => {
      this.gotFirst = resolve;
      this.failed = reject;
    });
  }

  static open(service: Service, token: string): StreamClient {
    const client = new StreamClient(token);
    Bun.connect({
      hostname: "127.0.0.1",
      port: service.port,
      socket: {
        open: (socket) => {
          client.socket = socket;
          socket.write(`GET /reservation/stream?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
        },
        data: (_socket, data) => client.received(data.toString("latin1")),
        close: () => client.closed(),
        error: () => client.closed(),
      },
    }).catch((err) => client.failed(err));
    return client;
  }

  close(): void {
    this.socket?.end();
  }

  private closed(): void {
    this.ended = true;
    this.failed(new Error("the stream closed before its first message"));
  }

  /** latin1: one character a byte, so chunk sizes count characters. */
  private received(text: string): void {
    this.text += text;
    if (!this.headersDone) {
      const end = this.text.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.text.startsWith("HTTP/1.1 200")) return this.failed(new Error(this.text.slice(0, end)));
      this.headersDone = true;
      this.text = this.text.slice(end + 4);
    }
    // chunked transfer encoding: "<hex size>\r\n<bytes>\r\n", ..., "0\r\n\r\n"
    for (;;) {
      const line = this.text.indexOf("\r\n");
      if (line < 0) return;
      const size = parseInt(this.text.slice(0, line), 16);
      if (size === 0) return this.socket?.end();
      if (this.text.length < line + 2 + size + 2) return;
      this.body += this.text.slice(line + 2, line + 2 + size);
      this.text = this.text.slice(line + 2 + size + 2);
      this.messages();
    }
  }

  private messages(): void {
    let end: number;
    while ((end = this.body.indexOf("\n\n")) >= 0) {
      const block = this.body.slice(0, end);
      this.body = this.body.slice(end + 2);
      const data = block.split("\n").find((l) => l.startsWith("data: "));
      if (!block.includes("event: status") || !data) continue;
      const answer = JSON.parse(data.slice(6)) as { status: string };
      this.statuses.push(answer);
      if (this.statuses.length === 1) this.gotFirst();
      if (answer.status === "reserved") this.reservedAt ??= Date.now();
      if (!["queued", "reserved", "paused", "waiting_for_sale"].includes(answer.status)) this.finalAt = Date.now();
    }
  }
}
