// GET /reservation/stream: live status over Server-Sent Events, against a real listening
// server, real Redis and PostgreSQL; two instances on one database and key prefix; and a real
// process for SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join as joinPath } from "node:path";
import { createApp } from "../src/app";
import { closeServices, createServices, type Services } from "../src/services";
import { STATUS_MESSAGES } from "../src/domain/states";
import { StreamHub } from "../src/reservations/stream-hub";
import { listeningPort } from "../bench/harness";
import { countCommands } from "../bench/monitor";
import { TcpProxy } from "./proxy";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, exitWithin, join, joinMany, quietLog, REDIS_URL, stays, statusOf, TEST_CLUSTER_NODES, waitFor, type TestEnv } from "./helpers";

type Message = { at: number; event?: string; id?: number; data?: any; retry?: number; comment?: string };

/** Reads an event stream as it comes: each block becomes a message; `ended` once the server closes it. */
class StreamReader {
  readonly messages: Message[] = [];
  ended = false;
  readonly done: Promise<void>;

  constructor(readonly response: Response) {
    this.done = this.read();
  }

  get statuses() {
    return this.messages.filter((m) => m.event === "status").map((m) => m.data);
  }

  async next(what: string, check: (m: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    let found: Message | undefined;
    await waitFor(what, () => (found = this.messages.find(check)) !== undefined, timeoutMs, 5);
    return found!;
  }

  private async read() {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of this.response.body!) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          this.messages.push(parse(buffered.slice(0, end)));
          buffered = buffered.slice(end + 2);
        }
      }
    } catch {} // aborted by the test
    this.ended = true;
  }
}

function parse(block: string): Message {
  const m: Message = { at: performance.now() };
  for (const line of block.split("\n")) {
    if (line.startsWith(": ")) m.comment = line.slice(2);
    else if (line.startsWith("event: ")) m.event = line.slice(7);
    else if (line.startsWith("id: ")) m.id = Number(line.slice(4));
    else if (line.startsWith("data: ")) m.data = JSON.parse(line.slice(6));
    else if (line.startsWith("retry: ")) m.retry = Number(line.slice(7));
  }
  return m;
}

let env: TestEnv;
let base: string;
let server: ReturnType<TestEnv["app"]["listen"]>;
const controllers: AbortController[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  env.s.streams.close();
  env.s.streams = new StreamHub(env.s, { keepAliveMs: 300 });
  server = env.app.listen({ port: 0 });
  base = `http://127.0.0.1:${server.server!.port}`;
});
afterAll(async () => {
  for (const c of controllers) c.abort();
  await server.stop(true);
  await env.close();
});

async function openStream(token: string, headers: Record<string, string> = {}): Promise<StreamReader> {
  const controller = new AbortController();
  controllers.push(controller);
  const response = await fetch(`${base}/reservation/stream?token=${encodeURIComponent(token)}`, { signal: controller.signal, headers });
  expect(response.status).toBe(200);
  return new StreamReader(response);
}

const post = (path: string, body: unknown) => env.post(path, body);

/** A type whose one ticket is held: its queue waits, and nobody is told sold out. */
async function heldType(name: string): Promise<number> {
  const type = await env.ticketType({ capacity: 1 });
  await join(env, `${name}-holder`, type);
  await env.drain();
  return type;
}

describe("opening a stream", () => {
  test("a missing token is 400 JSON, a forged or unknown one 404 JSON, as the status route answers", async () => {
    const missing = await fetch(`${base}/reservation/stream`);
    expect(missing.status).toBe(400);
    expect(missing.headers.get("content-type")).toContain("application/json");
    expect(((await missing.json()) as any).error).toBe("invalid_input");

    const type = await env.ticketType({ capacity: 1 });
    const genuine = await join(env, "forger", type);
    const forged = genuine.slice(0, -2) + (genuine.endsWith("AA") ? "BB" : "AA");
    for (const token of [forged, "x".repeat(48), "not-a-token"]) {
      const res = await fetch(`${base}/reservation/stream?token=${token}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(((await res.json()) as any).error).toBe("unknown_token");
    }
  });

  test("the first message goes out at once, with the status route's answer; retry advice and keep-alive comments follow", async () => {
    const type = await heldType("first");
    const tokens = await joinMany(env, type, 3, "first");
    const started = performance.now();
    const stream = await openStream(tokens[2]!);
    expect(stream.response.headers.get("content-type")).toStartWith("text/event-stream");
    expect(stream.response.headers.get("cache-control")).toContain("no-cache");
    const first = await stream.next("the first status", (m) => m.event === "status");
    expect(first.at - started).toBeLessThan(500);
    expect(first.data).toEqual(await statusOf(env, tokens[2]!));
    expect(first.data).toMatchObject({ status: "queued", position: 3 });
    expect(first.id).toBe(1);
    const retry = stream.messages.find((m) => m.retry !== undefined)!;
    expect(retry.retry).toBeGreaterThanOrEqual(1000);
    expect(retry.retry).toBeLessThanOrEqual(5000);
    await stream.next("a keep-alive comment", (m) => m.comment === "keep-alive", 2000);
  });

  test("a reconnecting EventSource's Last-Event-ID keeps the ids growing", async () => {
    const type = await heldType("reconnect");
    const token = await join(env, "reconnect", type);
    const stream = await openStream(token, { "last-event-id": "41" });
    expect((await stream.next("the first status", (m) => m.event === "status")).id).toBe(42);
  });

  test("a stream whose client goes away is forgotten", async () => {
    const type = await heldType("leaver");
    const token = await join(env, "leaver", type);
    const before = env.s.streams.size;
    const controller = new AbortController();
    const res = await fetch(`${base}/reservation/stream?token=${token}`, { signal: controller.signal });
    const stream = new StreamReader(res);
    await stream.next("the first status", (m) => m.event === "status");
    expect(env.s.streams.size).toBe(before + 1);
    controller.abort();
    await waitFor("the hub to forget the stream", () => env.s.streams.size === before, 3000);
  });
});

describe("changes reach the stream", () => {
  test("positions fall as people are served, at most one message a second; then queued -> reserved", async () => {
    const type = await env.ticketType({ capacity: 3 });
    const ahead = await joinMany(env, type, 8, "ahead");
    const mine = await join(env, "me", type);
    const stream = await openStream(mine);
    await stream.next("the first status", (m) => m.data?.position === 9);
    await env.drain(); // three hold; the rest wait while holds are out
    // one hold given back at a time: each lets the next person in
    for (const token of ahead.slice(0, 6)) {
      expect((await post("/reservation/release", { token })).status).toBe(200);
      await env.drain();
      await Bun.sleep(200); // the moves spread over time, as in a sale: their coalescing is what is tested
    }
    const reserved = await stream.next("reserved", (m) => m.data?.status === "reserved");
    expect(reserved.data).toEqual(await statusOf(env, mine));
    const positions = stream.messages.filter((m) => m.data?.status === "queued");
    const seen = positions.map((m) => m.data.position);
    expect(seen[0]).toBe(9);
    expect(seen).toEqual([...seen].sort((a, b) => b - a)); // falling
    expect(new Set(seen).size).toBe(seen.length);
    // served moved seven times (3, then one at a time); coalesced to one message a second at most
    expect(seen.length).toBeLessThan(7);
    for (let i = 1; i < positions.length; i++) expect(positions[i]!.at - positions[i - 1]!.at).toBeGreaterThan(900);
    expect(stream.ended).toBe(false); // reserved is not final
    await env.expectInvariants();
  }, 30_000);

  test("a place behind held tickets is told their earliest deadline, and the next one once a ticket came back to the person ahead", async () => {
    const type = await env.ticketType({ capacity: 1, per_user_limit: 1 });
    const [holder, ahead, mine] = await joinMany(env, type, 3, "behind-held");
    await env.drain(); // the holder holds the only ticket
    const deadline = async (token: string) =>
      ((await env.sql`SELECT expires_at FROM reservations WHERE token = ${token}`)[0]!.expires_at as Date).toISOString();
    const stream = await openStream(mine!);
    const first = await stream.next("a wait for held tickets", (m) => m.data?.waiting_for_held_tickets === true);
    expect(first.data).toMatchObject({ status: "queued", position: 2, next_release_at: await deadline(holder!) });
    expect(first.data).not.toHaveProperty("estimated_wait_seconds");
    expect((await post("/reservation/release", { token: holder })).status).toBe(200);
    await env.drain(); // the person ahead holds it now
    const next = await stream.next("position 1", (m) => m.data?.position === 1);
    expect(next.data).toMatchObject({ status: "queued", waiting_for_held_tickets: true, next_release_at: await deadline(ahead!) });
    expect(next.data).toEqual(await statusOf(env, mine!));
  });

  test("sold out reaches a queued stream, which then closes", async () => {
    const type = await env.ticketType({ capacity: 1 });
    const [first, second] = await joinMany(env, type, 2, "sold");
    // a confirm moves no stock: the blocked type is looked at again after blockedRetryMs (short here)
    const processor = env.processor({ blockedRetryMs: 50 });
    await env.drain(processor);
    const stream = await openStream(second!);
    await stream.next("queued", (m) => m.data?.status === "queued");
    await post("/reservation/confirm", { token: first });
    // nothing left and no hold out: the second is told sold out
    await waitFor("the second told sold out", async () => {
      await env.drain(processor);
      return (await statusOf(env, second!)).status === "sold_out";
    }, 5000);
    await stream.next("sold_out", (m) => m.data?.status === "sold_out");
    await stream.done;
    // queued, perhaps again when the held ticket is confirmed (no longer waiting for held tickets), then sold out
    const seen = stream.statuses.map((s) => s.status);
    expect(seen.at(-1)).toBe("sold_out");
    expect(new Set(seen.slice(0, -1))).toEqual(new Set(["queued"]));
  });

  test("expired reaches the stream when the cleaner expires a lapsed hold, and the stream closes", async () => {
    const type = await env.ticketType({ capacity: 1 });
    const token = await join(env, "lapse", type);
    await env.drain();
    const stream = await openStream(token);
    await stream.next("reserved", (m) => m.data?.status === "reserved");
    await env.backdate(token);
    const expiring = performance.now();
    expect(await env.cleaner().expireNow()).toBe(1);
    const expired = await stream.next("expired", (m) => m.data?.status === "expired", 2000);
    expect(expired.at - expiring).toBeLessThan(1000);
    expect(expired.data).toEqual(await statusOf(env, token));
    await stream.done;
    await env.expectInvariants();
  });

  describe("two instances on one database and Redis", () => {
    let other: Services;
    let otherApp: ReturnType<typeof createApp>;
    beforeAll(async () => {
      other = createServices({ ...env.config, ADMIN_TOKEN }, quietLog);
      await other.redis.connect();
      otherApp = createApp(other);
    });
    afterAll(() => closeServices(other));

    test("a confirm on instance B reaches a stream held by instance A within a second; so does a cancel, and the stream then closes", async () => {
      const type = await env.ticketType({ capacity: 2 });
      const [token, released] = await joinMany(env, type, 2, "ab");
      await env.drain();
      const stream = await openStream(token!);
      const other_ = await openStream(released!);
      await stream.next("reserved", (m) => m.data?.status === "reserved");
      await other_.next("reserved", (m) => m.data?.status === "reserved");

      const call = (path: string, t: string) => otherApp.handle(new Request(`http://localhost${path}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: t }),
      }));
      const confirming = performance.now();
      const confirmed = (await (await call("/reservation/confirm", token!)).json()) as any;
      const message = await stream.next("confirmed", (m) => m.data?.status === "confirmed", 2000);
      expect(message.at - confirming).toBeLessThan(1000);
      expect(message.data).toMatchObject({ booking_id: confirmed.booking_id, booking_ref: confirmed.booking_ref });
      expect(message.data).toEqual(await statusOf(env, token!));
      // a booking may still be cancelled: its stream stays open, and hears of it
      await stays("the confirmed stream open", () => !stream.ended, 300);
      const cancelling = performance.now();
      const cancel = await otherApp.handle(new Request(`http://localhost/admin/bookings/${confirmed.booking_id}/cancel`, {
        method: "POST", headers: { "content-type": "application/json", ...ADMIN_AUTH }, body: JSON.stringify({ reason: "refund" }),
      }));
      expect(cancel.status).toBe(200);
      const cancelled = await stream.next("cancelled", (m) => m.data?.status === "cancelled", 2000);
      expect(cancelled.at - cancelling).toBeLessThan(1000);
      expect(cancelled.data).toEqual({
        status: "cancelled", ticket_type_id: type, quantity: 1, booking_id: confirmed.booking_id, booking_ref: confirmed.booking_ref,
        message: STATUS_MESSAGES.cancelled,
      });
      expect(cancelled.data).toEqual(await statusOf(env, token!));
      await stream.done;

      expect((await call("/reservation/release", released!)).status).toBe(200);
      await other_.next("released", (m) => m.data?.status === "released", 2000);
      await other_.done;
      await env.expectInvariants();
    });
  });
});

// Both cut off or watch one Redis (a TCP proxy in front of it, MONITOR on it): single Redis
// only. On a cluster, test/cluster.test.ts kills a master instead.
describe.skipIf(TEST_CLUSTER_NODES !== undefined)("Redis outage", () => {
  let cut: TestEnv;
  let proxy: TcpProxy;
  let cutServer: ReturnType<TestEnv["app"]["listen"]>;
  let direct: Services;
  beforeAll(async () => {
    proxy = await TcpProxy.start(REDIS_URL);
    cut = await createTestEnv({ REDIS_URL: proxy.url(REDIS_URL) });
    cut.s.streams.close();
    cut.s.streams = new StreamHub(cut.s, { keepAliveMs: 200 });
    cutServer = cut.app.listen({ port: 0 });
    direct = createServices({ ...cut.config, REDIS_URL }, quietLog); // another instance, still reaching Redis
    await direct.redis.connect();
  });
  afterAll(async () => {
    proxy.restore();
    await cutServer.stop(true);
    await closeServices(direct);
    await cut.close();
    await proxy.stop();
  });

  test("streams stay open and keep alive while Redis is away; a change missed meanwhile arrives once it is back", async () => {
    const type = await cut.ticketType({ capacity: 1 });
    const token = await join(cut, "outage", type);
    await cut.drain();
    const controller = new AbortController();
    controllers.push(controller);
    const url = `http://127.0.0.1:${cutServer.server!.port}/reservation/stream?token=${token}`;
    const stream = new StreamReader(await fetch(url, { signal: controller.signal }));
    await stream.next("reserved", (m) => m.data?.status === "reserved");

    proxy.cut();
    // confirmed on an instance that still reaches Redis: its notice goes past the cut-off one
    const confirm = await createApp(direct).handle(new Request("http://localhost/reservation/confirm", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }),
    }));
    expect(confirm.status).toBe(200);
    const keptAlive = stream.messages.length;
    const keepAlives = () => stream.messages.slice(keptAlive).filter((m) => m.comment === "keep-alive").length;
    await waitFor("two keep-alives while Redis is away", () => keepAlives() >= 2, 3000, 5);
    expect(stream.ended).toBe(false);
    expect(stream.statuses).toEqual([stream.statuses[0]]);

    proxy.restore();
    await stream.next("confirmed after the reconnect", (m) => m.data?.status === "confirmed", 10_000);
  }, 30_000);
});

describe.skipIf(TEST_CLUSTER_NODES !== undefined)("cost", () => {
  beforeAll(async () => {
    // only the streams each test opens
    for (const c of controllers.splice(0)) c.abort();
    await waitFor("every earlier stream to close", () => env.s.streams.size === 0, 3000);
  });

  const commandsOver = async (ms: number) => (await countCommands(REDIS_URL, env.config.REDIS_KEY_PREFIX, ms)).total;

  /**
   * Until a whole tick of the hub went by without a look-up: what opening streams sets off (the
   * type's subscription, the first passes) is over, and what is counted next is the steady cost.
   */
  async function settled(): Promise<void> {
    const counts = env.s.streams.counts;
    await waitFor("a tick of the hub without a look-up", async () => {
      const lookups = counts.lookups;
      let ticks = 0;
      let markReads = counts.markReads; // read at the start of each tick
      await waitFor("two ticks of the hub", () => {
        if (counts.markReads !== markReads) [ticks, markReads] = [ticks + 1, counts.markReads];
        return ticks >= 2;
      }, 3000, 5);
      return counts.lookups === lookups;
    }, 10_000, 0);
  }

  test("while nothing changes, 200 streams of one type cost Redis what 1 does", async () => {
    const type = await heldType("idle");
    const tokens = await joinMany(env, type, 200, "idle");
    const streams = [await openStream(tokens[0]!)];
    await streams[0]!.next("the first status", (m) => m.event === "status");
    await settled();
    const one = await commandsOver(2000);
    for (const token of tokens.slice(1)) streams.push(await openStream(token));
    await Promise.all(streams.map((s) => s.next("the first status", (m) => m.event === "status")));
    expect(streams.map((s) => s.statuses[0].position)).toEqual(tokens.map((_, i) => i + 1));
    await settled();
    const lookups = env.s.streams.counts.lookups;
    const many = await commandsOver(2000);
    expect(env.s.streams.counts.lookups).toBe(lookups); // nobody looked up on their own
    expect(one).toBeGreaterThan(0); // the type's mark is read once a tick
    expect(one).toBeLessThanOrEqual(12);
    expect(many).toBeLessThanOrEqual(one + 2);
    for (const s of streams) expect(s.statuses).toHaveLength(1);
  }, 30_000);

  test("pausing a type makes its waiting streams look themselves up once", async () => {
    const type = await heldType("pause");
    const tokens = await joinMany(env, type, 5, "pause");
    const streams = await Promise.all(tokens.map((t) => openStream(t)));
    await Promise.all(streams.map((s) => s.next("the first status", (m) => m.event === "status")));
    await settled();
    const lookups = env.s.streams.counts.lookups;
    await env.sql`UPDATE ticket_types SET paused = true WHERE id = ${type}`;
    await waitFor("the streams to look themselves up", () => env.s.streams.counts.lookups >= lookups + 5, 3000);
    await stays("no more lookups", () => env.s.streams.counts.lookups === lookups + 5, 1500);
  });
});

test("SIGTERM closes a serving process' streams at once, and it still stops within 10 s", async () => {
  const port = 0;
  const child = Bun.spawn(["bun", joinPath(import.meta.dir, "..", "src", "main.ts"), "serve"], {
    env: {
      ...process.env, PORT: String(port), DATABASE_URL: env.config.DATABASE_URL, REDIS_URL,
      REDIS_KEY_PREFIX: env.config.REDIS_KEY_PREFIX, TOKEN_SECRET: env.config.TOKEN_SECRET, LOG_LEVEL: "info",
    },
    stdout: "pipe",
    stderr: "ignore",
  });
  try {
    const listening = await listeningPort(child.stdout);
    const url = `http://127.0.0.1:${listening}`;
    const type = await heldType("sigterm");
    const joined = (await (await fetch(`${url}/queue/join`, {
      method: "POST", body: JSON.stringify({ user_id: "sigterm", ticket_type_id: type }),
    })).json()) as { queue_token: string };
    const stream = new StreamReader(await fetch(`${url}/reservation/stream?token=${joined.queue_token}`));
    await stream.next("the first status", (m) => m.data?.status === "queued");

    const signalled = performance.now();
    child.kill("SIGTERM");
    await stream.done;
    expect(performance.now() - signalled).toBeLessThan(2000);
    expect(await exitWithin(child, 10_000)).toBe(0);
  } finally {
    child.kill("SIGKILL");
  }
}, 40_000);
