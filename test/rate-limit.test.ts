// Per-client rate limits, through a real listening server (a client is the socket's address):
// a client over its limit is refused with 429 and Retry-After while another is not, a refusal
// changes nothing, buckets refill, X-Forwarded-For counts only as far as TRUST_PROXY says,
// IPv6 clients count by /64, and open streams are capped per client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApp } from "../src/app";
import { ConfigError, loadEnv, type Config } from "../src/config/config";
import { addressKey } from "../src/rate-limit/client";
import { OpenStreams } from "../src/rate-limit/open-streams";
import { TokenBuckets } from "../src/rate-limit/token-buckets";
import { createTestEnv, join, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
const servers: { stop(closeActive?: boolean): Promise<void> }[] = [];
const sockets: { destroy(): void }[] = [];

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await s.stop(true);
  await env.close();
});

/** The app with these limits, listening on every address, IPv4 and IPv6; returns its port. */
function serve(settings: Partial<Config>): number {
  const config = { ...env.config, RATE_LIMITS: "on" as const, ...settings };
  const app = createApp({ ...env.s, config }).listen({ port: 0, hostname: "::" });
  servers.push(app.server!);
  return app.server!.port!;
}

type Answer = { status: number; headers: Record<string, string>; body: any };

/**
 * One HTTP/1.1 request over a socket bound to `from` (any 127.x.y.z is this machine's), so that
 * each test can be several clients. fetch() cannot choose its source address.
 */
function send(port: number, from: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? "" : JSON.stringify(body);
    const head = { host: "localhost", connection: "close", "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)), ...headers };
    const socket = connect({ host: "127.0.0.1", port, localAddress: from }, () => {
      socket.write(`${method} ${path} HTTP/1.1\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${payload}`);
    });
    let raw = "";
    socket.on("data", (chunk) => (raw += chunk));
    socket.on("error", reject);
    socket.on("end", () => resolve(parse(raw)));
  });
}

function parse(raw: string): Answer {
  const [head = "", text = ""] = raw.split("\r\n\r\n", 2);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

/** Opens a stream from `from` and reads only its status line and headers; the socket stays open. */
function openStream(port: number, from: string, token: string): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: from }, () => {
      socket.write(`GET /reservation/stream?token=${encodeURIComponent(token)} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
    });
    sockets.push(socket);
    let raw = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      raw += chunk;
      if (raw.includes("\r\n\r\n")) resolve({ status: parse(raw).status, close: () => socket.destroy() });
    });
  });
}

const A = "127.0.0.2";
const B = "127.0.0.3";
const FORGED = "A".repeat(48); // passes the limiter, then 404 without touching Redis or PostgreSQL
const statusOf = (port: number, from: string, headers: Record<string, string> = {}) =>
  send(port, from, "GET", `/reservation/status?token=${FORGED}`, undefined, headers);

function expectRefused(res: Answer) {
  expect(res.status).toBe(429);
  expect(res.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/);
  expect(res.body).toMatchObject({ error: "rate_limited", retry_after: Number(res.headers["retry-after"]) });
  expect(typeof res.body.message).toBe("string");
  expect(res.body.request_id).toBe(res.headers["x-request-id"]!);
}

/** Everything of this test's in Redis (every key, dumped) and PostgreSQL (the rows that a join could add). */
async function snapshot() {
  const keys = [];
  let cursor = "0";
  do {
    const [next, found] = await env.s.redis.scan(cursor, "MATCH", `${env.config.REDIS_KEY_PREFIX}*`, "COUNT", 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== "0");
  const redis = await Promise.all(keys.sort().map(async (k) => [k, (await env.s.redis.dumpBuffer(k))?.toString("base64")]));
  const [pg] = await env.sql`
    SELECT (SELECT count(*) FROM reservations) AS reservations, (SELECT count(*) FROM bookings) AS bookings,
           (SELECT sum(stock) FROM ticket_types) AS stock`;
  return { redis, pg };
}

describe("a client over its limit", () => {
  test("is refused joins with 429 and Retry-After, while another client is not", async () => {
    const port = serve({ RATE_LIMIT_JOIN: "3,1" });
    const type = await env.ticketType({ capacity: 100 });
    for (let i = 0; i < 3; i++) expect((await send(port, A, "POST", "/queue/join", { user_id: `a${i}`, ticket_type_id: type })).status).toBe(200);
    const refused = await send(port, A, "POST", "/queue/join", { user_id: "a3", ticket_type_id: type });
    expectRefused(refused);
    expect(refused.body.retry_after).toBe(60); // one token a minute
    expect((await send(port, B, "POST", "/queue/join", { user_id: "b0", ticket_type_id: type })).status).toBe(200);
    // invalid requests count too: the limit comes before the body is checked
    expectRefused(await send(port, A, "POST", "/queue/join", { ticket_type_id: "x" }));
  });

  test("a refused join changes nothing in Redis or PostgreSQL", async () => {
    const port = serve({ RATE_LIMIT_JOIN: "1,1" });
    const type = await env.ticketType({ capacity: 100 });
    expect((await send(port, A, "POST", "/queue/join", { user_id: "first", ticket_type_id: type })).status).toBe(200);
    await env.drain();
    const before = await snapshot();
    expectRefused(await send(port, A, "POST", "/queue/join", { user_id: "second", ticket_type_id: type }));
    expect(await snapshot()).toEqual(before);
    // the same user joins fine from elsewhere: nothing of the refused join was kept
    expect((await send(port, B, "POST", "/queue/join", { user_id: "second", ticket_type_id: type })).status).toBe(200);
  });

  test("status, stream openings, confirms and releases are limited too; release shares confirm's bucket", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "2,1", RATE_LIMIT_STREAM: "1,1", RATE_LIMIT_CONFIRM: "2,1" });
    expect((await statusOf(port, A)).status).toBe(404);
    expect((await statusOf(port, A)).status).toBe(404);
    expectRefused(await statusOf(port, A));
    expect((await statusOf(port, B)).status).toBe(404);

    expect((await send(port, A, "GET", `/reservation/stream?token=${FORGED}`)).status).toBe(404);
    expectRefused(await send(port, A, "GET", `/reservation/stream?token=${FORGED}`));

    expect((await send(port, A, "POST", "/reservation/confirm", { token: FORGED })).status).toBe(404);
    expect((await send(port, A, "POST", "/reservation/release", { token: FORGED })).status).toBe(404);
    expectRefused(await send(port, A, "POST", "/reservation/confirm", { token: FORGED }));
    expectRefused(await send(port, A, "POST", "/reservation/release", { token: FORGED }));
    expect((await send(port, B, "POST", "/reservation/release", { token: FORGED })).status).toBe(404);
  });

  test("gets tokens back as the bucket refills, and is told when", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "2,600" }); // ten a second
    expect((await statusOf(port, A)).status).toBe(404);
    expect((await statusOf(port, A)).status).toBe(404);
    const refused = await statusOf(port, A);
    expectRefused(refused);
    expect(refused.headers["retry-after"]).toBe("1"); // 100 ms, rounded up to a whole second
    await Bun.sleep(150); // time is what refills the bucket: one token in 100 ms
    expect((await statusOf(port, A)).status).toBe(404);
    expectRefused(await statusOf(port, A));
  });

  test("health, the documentation and the admin API are never limited", async () => {
    const port = serve({ RATE_LIMIT_JOIN: "1,1", RATE_LIMIT_STATUS: "1,1", RATE_LIMIT_STREAM: "1,1", RATE_LIMIT_CONFIRM: "1,1" });
    for (let i = 0; i < 5; i++) {
      expect((await send(port, A, "GET", "/health")).status).toBe(200);
      expect((await send(port, A, "GET", "/events")).status).toBe(200);
      expect((await send(port, A, "GET", "/openapi/json")).status).toBe(200);
      expect((await send(port, A, "POST", "/admin/events", { name: "x" })).status).toBe(403); // admin off here: refused by its own rule
    }
  });
});

describe("who the client is", () => {
  test("without TRUST_PROXY, X-Forwarded-For is ignored: a client cannot make itself another", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1", TRUST_PROXY: 0 });
    expect((await statusOf(port, A)).status).toBe(404);
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "203.0.113.7" }));
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "203.0.113.8, 203.0.113.9" }));
  });

  test("with TRUST_PROXY=1 the hop our proxy added (the last) is the client; hops the client prepended are ignored", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1", TRUST_PROXY: 1 });
    // all from one socket (the proxy); the client is the last hop
    expect((await statusOf(port, A, { "x-forwarded-for": "198.51.100.1" })).status).toBe(404);
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "198.51.100.1" }));
    // spoofed hops on the left change nothing
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "10.9.9.9, 198.51.100.1" }));
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "1.2.3.4,5.6.7.8 , 198.51.100.1" }));
    // another client behind the same proxy is another bucket
    expect((await statusOf(port, A, { "x-forwarded-for": "198.51.100.1, 198.51.100.2" })).status).toBe(404);
    // no header (a request that did not come through the proxy): the socket's address
    expect((await statusOf(port, B)).status).toBe(404);
    expectRefused(await statusOf(port, B));
  });

  test("with TRUST_PROXY=2 the second hop from the right is the client", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1", TRUST_PROXY: 2 });
    expect((await statusOf(port, A, { "x-forwarded-for": "spoofed, 198.51.100.5, 10.0.0.1" })).status).toBe(404);
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "other-spoof, 198.51.100.5, 10.0.0.2" }));
    expect((await statusOf(port, A, { "x-forwarded-for": "198.51.100.5, 198.51.100.6, 10.0.0.1" })).status).toBe(404);
  });

  test("IPv6 clients count by /64: one host cannot rotate addresses to escape its limit", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1", TRUST_PROXY: 1 });
    expect((await statusOf(port, A, { "x-forwarded-for": "2001:db8:1:2::1" })).status).toBe(404);
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "2001:db8:1:2:ffff:eeee:dddd:9" }));
    expectRefused(await statusOf(port, A, { "x-forwarded-for": "2001:DB8:1:2:0:0:0:42" }));
    expect((await statusOf(port, A, { "x-forwarded-for": "2001:db8:1:3::1" })).status).toBe(404);
  });

  test("with TRUST_PROXY a hop's port or spelling makes no other client; special addresses are not one /64 with strangers", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1", TRUST_PROXY: 1 });
    const via = (hop: string) => statusOf(port, A, { "x-forwarded-for": `10.0.0.1, ${hop}` });
    expect((await via("7.7.7.7:5123")).status).toBe(404);
    for (const same of ["7.7.7.7:5124", "7.7.7.7", "::ffff:7.7.7.7", "[::FFFF:0707:0707]:1", "0:0:0:0:0:ffff:7.7.7.7", "64:ff9b::7.7.7.7"]) {
      expectRefused(await via(same));
    }
    expect((await via("[2001:db8::1]:443")).status).toBe(404);
    expectRefused(await via("2001:db8::2"));
    // loopback, link-local: each address its own client, not one /64 with every other
    for (const apart of ["::1", "::2", "fe80::1", "fe80::2", "[fe80::3%eth0]:80"]) expect((await via(apart)).status).toBe(404);
    expectRefused(await via("::1"));
    // garbage: no crash, a client of its own
    expect((await via("not an address")).status).toBe(404);
    expectRefused(await via("not an address"));
    expect((await via("8.8.8.8")).status).toBe(404);
  });

  test("the socket's own addresses: IPv4 over a dual-stack socket as IPv4, IPv6 loopback apart", async () => {
    const port = serve({ RATE_LIMIT_STATUS: "1,1" });
    expect((await fetch(`http://127.0.0.1:${port}/reservation/status?token=${FORGED}`)).status).toBe(404);
    expect((await send(port, "127.0.0.1", "GET", `/reservation/status?token=${FORGED}`)).status).toBe(429);
    expect((await fetch(`http://[::1]:${port}/reservation/status?token=${FORGED}`)).status).toBe(404);
    expect((await fetch(`http://[::1]:${port}/reservation/status?token=${FORGED}`)).status).toBe(429);
  });

  test("addresses as counted, whatever their spelling", () => {
    const cases: [string, string][] = [
      // IPv4, a port dropped
      ["192.0.2.1", "192.0.2.1"], ["7.7.7.7:5123", "7.7.7.7"],
      // IPv6 by its /64, brackets, a port, a zone, capitals and leading zeros dropped
      ["2001:db8::1", "2001:db8:0:0::/64"], ["2001:0db8:0000:0000:abcd::1", "2001:db8:0:0::/64"], ["[2001:db8:a:b::1]", "2001:db8:a:b::/64"],
      ["[2001:db8::1]:443", "2001:db8:0:0::/64"], ["2001:DB8:A:B:C:D:E:F", "2001:db8:a:b::/64"], ["2001:db8::1%eth0", "2001:db8:0:0::/64"],
      ["fd12:3456:789a:1::1", "fd12:3456:789a:1::/64"], // unique-local: by /64 like a global address
      // IPv4-mapped, -compatible and NAT64: the IPv4 address
      ["::ffff:1.2.3.4", "1.2.3.4"], ["::FFFF:1.2.3.4", "1.2.3.4"], ["::ffff:0102:0304", "1.2.3.4"], ["::ffff:102:304", "1.2.3.4"],
      ["0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"], ["0000:0000:0000:0000:0000:FFFF:0102:0304", "1.2.3.4"], ["[::ffff:1.2.3.4]:80", "1.2.3.4"],
      ["::1.2.3.4", "1.2.3.4"], ["64:ff9b::1.2.3.4", "1.2.3.4"], ["64:FF9B::102:304", "1.2.3.4"],
      // special addresses whose /64 is everyone's: the whole address
      ["::1", "0:0:0:0:0:0:0:1"], ["[::1]:8080", "0:0:0:0:0:0:0:1"], ["0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"], ["::", "0:0:0:0:0:0:0:0"],
      ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"], ["FE80::2", "fe80:0:0:0:0:0:0:2"], ["febf::3", "febf:0:0:0:0:0:0:3"], ["ff02::1", "ff02:0:0:0:0:0:0:1"],
    ];
    for (const [address, key] of cases) expect([address, addressKey(address)]).toEqual([address, key]);
    expect(addressKey("fe80::1")).not.toBe(addressKey("fe80::2")); // two machines on a link
    expect(addressKey("::1")).not.toBe(addressKey("::2"));
  });

  test("garbage is a client of its own: never a crash, never a real address's key", () => {
    const garbage = ["1::2::3", "unknown", "", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4:x", "1.2.3.4:123456", "[::1", "[::1]x",
      "[::1]:", "::ffff:1.2.3", "::ffff:1.2.3.400", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", ":::", "g::1", "x".repeat(5000),
      "[1.2.3.4]", "1.2.3.4::", "::1.2.3.4:5", "%", "\u0000"];
    for (const g of garbage) {
      const key = addressKey(g);
      expect(key.startsWith("invalid:")).toBe(true);
      expect(key.length).toBeLessThanOrEqual(72);
    }
    expect(addressKey("1.2.3.4:x")).not.toBe(addressKey("1.2.3.4"));
  });

  test("in-process calls (no socket, no address) count as one client", async () => {
    const app = createApp({ ...env.s, config: { ...env.config, RATE_LIMITS: "on", RATE_LIMIT_STATUS: "1,1" } });
    const ask = () => app.handle(new Request(`http://localhost/reservation/status?token=${FORGED}`));
    expect((await ask()).status).toBe(404);
    expect((await ask()).status).toBe(429);
  });
});

describe("live streams", () => {
  test("a client holds at most RATE_LIMIT_OPEN_STREAMS open; another client is not held back; a closed one frees a place", async () => {
    const port = serve({ RATE_LIMIT_OPEN_STREAMS: 2 });
    const type = await env.ticketType({ capacity: 1 });
    await join(env, "holder", type);
    await env.drain(); // the one ticket is held: the others wait, their streams stay open
    const tokens = await Promise.all(["s1", "s2", "s3", "s4"].map((u) => join(env, u, type)));
    const first = await openStream(port, A, tokens[0]!);
    const second = await openStream(port, A, tokens[1]!);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await send(port, A, "GET", `/reservation/stream?token=${encodeURIComponent(tokens[2]!)}`);
    expectRefused(third);
    expect(third.body.message).toContain("streams");
    expect((await openStream(port, B, tokens[2]!)).status).toBe(200);
    first.close();
    await waitFor("the closed stream to be counted out", async () => {
      const again = await openStream(port, A, tokens[3]!);
      if (again.status === 200) return true;
      again.close();
      return false;
    }, 5000, 50);
  });

  test("a stream refused for its token does not keep a place", async () => {
    const port = serve({ RATE_LIMIT_OPEN_STREAMS: 1 });
    for (let i = 0; i < 3; i++) expect((await send(port, A, "GET", `/reservation/stream?token=${FORGED}`)).status).toBe(404);
    const type = await env.ticketType({ capacity: 1 });
    await join(env, "h2", type);
    await env.drain();
    expect((await openStream(port, A, await join(env, "w2", type))).status).toBe(200);
  });
});

describe("buckets", () => {
  test("refill at their rate up to the burst; a refusal takes nothing", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 2, perMinute: 60 }, TokenBuckets.memory(1024), () => now);
    expect([buckets.take("a"), buckets.take("a")]).toEqual([0, 0]);
    expect(buckets.take("a")).toBe(1);
    now = 500;
    expect(buckets.take("a")).toBe(1); // half a token
    now = 1000;
    expect(buckets.take("a")).toBe(0); // the refusals above took nothing
    now = 100_000;
    expect([buckets.take("a"), buckets.take("a"), buckets.take("a")]).toEqual([0, 0, 1]); // never more than the burst
  });

  test("a busy client keeps its empty bucket under a flood of distinct clients far more than the table holds", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 5, perMinute: 1 }, TokenBuckets.memory(1024), () => now);
    for (let i = 0; i < 5; i++) expect(buckets.take("abuser")).toBe(0);
    // the flood's buckets stay fuller (4 tokens) than the abuser's (0): theirs are taken over
    for (let i = 0; i < 20_000; i++) {
      buckets.take(`client-${i}`);
      if (i % 100 === 0) expect(buckets.take("abuser")).toBeGreaterThan(0); // still empty, not forgotten
      now += 1;
    }
  });

  test("clients never share a bucket: a full table gives a newcomer the fullest one, a stranger's tokens never", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 1, perMinute: 1 }, TokenBuckets.memory(8), () => now); // each may use any slot
    const clients = Array.from({ length: 8 }, (_, i) => `c${i}`);
    for (const [i, c] of clients.entries()) {
      now = i * 1000;
      expect(buckets.take(c)).toBe(0);
    }
    now = 10_000;
    for (const c of clients) expect(buckets.take(c)).toBeGreaterThan(0); // all eight remembered, each its own
    expect(buckets.take("newcomer")).toBe(0); // takes over c0's, the fullest, starting full
    expect(buckets.take("newcomer")).toBe(60);
    for (const c of clients.slice(1)) expect(buckets.take(c)).toBeGreaterThan(0); // still remembered
    expect(buckets.take("c0")).toBe(0); // forgotten, in its favour
  });

  test("idle buckets, full again, are taken over first", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 1, perMinute: 60 }, TokenBuckets.memory(8), () => now); // full again after 1 s
    for (let i = 0; i < 7; i++) buckets.take(`idle-${i}`);
    now = 2000;
    expect(buckets.take("busy")).toBe(0); // the eighth slot, empty
    expect(buckets.take("busy")).toBe(1);
    for (let i = 0; i < 7; i++) expect(buckets.take(`new-${i}`)).toBe(0); // each takes an idle one's, not busy's
    expect(buckets.take("busy")).toBe(1);
  });

  test("threads sharing the memory count one client once: its burst is the instance's", async () => {
    const memory = TokenBuckets.memory(1024);
    const go = new Int32Array(new SharedArrayBuffer(4));
    const burst = 100_000;
    const take = `
      import { TokenBuckets } from ${JSON.stringify(`${import.meta.dir}/../src/rate-limit/token-buckets.ts`)};
      onmessage = ({ data: { memory, go } }) => {
        const buckets = new TokenBuckets({ burst: ${burst}, perMinute: 1 }, memory);
        postMessage("ready");
        Atomics.wait(go, 0, 0); // all at once
        let passed = 0;
        for (let i = 0; i < ${burst}; i++) if (buckets.take("shared") === 0) passed++;
        postMessage(passed);
      };`;
    const url = URL.createObjectURL(new Blob([take], { type: "text/javascript" }));
    const threads = Array.from({ length: 3 }, () => new Worker(url));
    const ready = threads.map((w) => new Promise((resolve) => w.addEventListener("message", resolve, { once: true })));
    for (const w of threads) w.postMessage({ memory, go });
    await Promise.all(ready);
    const passed = threads.map((w) => new Promise<number>((resolve) => w.addEventListener("message", (e) => resolve(e.data), { once: true })));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const counts = await Promise.all(passed);
    for (const w of threads) w.terminate();
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(burst); // 3 x the burst asked for; all of them together got it once
    expect(total).toBeLessThanOrEqual(burst + 1); // + what one token a minute refills meanwhile
    expect(counts.filter((p) => p > 0).length).toBeGreaterThan(1); // they did race
  });
});

describe("open streams", () => {
  test("are counted per client across threads sharing the memory, and given back once", () => {
    const memory = OpenStreams.memory(8);
    const [one, two] = [new OpenStreams(2, memory), new OpenStreams(2, memory)];
    const first = one.open("a")!;
    expect(two.open("a")).not.toBeNull();
    expect(one.open("a")).toBeNull();
    expect(two.open("a")).toBeNull();
    expect(two.open("b")).not.toBeNull(); // another client is not held back
    first();
    first(); // twice changes nothing
    expect(two.open("a")).not.toBeNull();
    expect(one.open("a")).toBeNull();
  });

  test("a client with none open gives up its slot; a full table lets a stream through uncounted rather than refuse it", () => {
    const streams = new OpenStreams(1, OpenStreams.memory(8));
    const closers = Array.from({ length: 8 }, (_, i) => streams.open(`c${i}`)!);
    expect(closers.every((c) => c !== null)).toBe(true);
    expect(streams.open("c0")).toBeNull(); // remembered
    expect(streams.open("newcomer")).not.toBeNull(); // every slot held: let through
    expect(streams.open("newcomer")).not.toBeNull(); // ... uncounted
    closers[3]!();
    expect(streams.open("newcomer")).not.toBeNull(); // c3's slot, now counted
    expect(streams.open("newcomer")).toBeNull();
  });
});

describe("settings", () => {
  test("are checked at start-up", () => {
    expect(loadEnv({}).RATE_LIMIT_JOIN).toBe("20,60");
    expect(loadEnv({ RATE_LIMIT_JOIN: " 5 , 30 " }).RATE_LIMIT_JOIN).toBe(" 5 , 30 ");
    for (const [name, value] of [["RATE_LIMIT_JOIN", "0,5"], ["RATE_LIMIT_STATUS", "5,0"], ["RATE_LIMIT_STREAM", "5/s"],
      ["RATE_LIMIT_CONFIRM", "1.5,2"], ["TRUST_PROXY", "yes"], ["TRUST_PROXY", "11"], ["RATE_LIMITS", "maybe"], ["RATE_LIMIT_OPEN_STREAMS", "0"]]) {
      expect(() => loadEnv({ [name!]: value })).toThrow(ConfigError);
      expect(() => loadEnv({ [name!]: value })).toThrow(name!);
    }
  });
});
