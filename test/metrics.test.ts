// GET /metrics on a real listening service (its processor and cleaner as workers): a small
// sale, then its counters against PostgreSQL's counts, exactly, per ticket type; the bearer
// check; route labels that are patterns, never a raw path or a query; the workers' figures in
// the same scrape; the per-type gauges read at most once a second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import { startService, type RunningService } from "../src/server";
import { createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";
import { parseMetrics, valueOf, type Sample } from "./prometheus";
import { subscribe, WebhookReceiver } from "./webhook-receiver";

const ADMIN_TOKEN = "metrics-test-admin-token-".padEnd(40, "a");
const METRICS_TOKEN = "metrics-test-scrape-token-".padEnd(40, "m");

let env: TestEnv;
let service: RunningService;
let base: string;

beforeAll(async () => {
  // holds of 3 s: the sale below sees some expire within the test
  env = await createTestEnv({ ADMIN_TOKEN, METRICS_TOKEN, RESERVATION_TTL_SECONDS: "3", LOG_LEVEL: "error" });
  service = await startService({ ...env.config, PORT: 0 }, quietLog);
  base = `http://127.0.0.1:${service.port}`;
});
afterAll(async () => {
  await service.stop(5000);
  await env.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

async function scrape(token = METRICS_TOKEN): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return parseMetrics(await res.text());
}

const joinAs = async (user_id: string, ticket_type_id: number): Promise<string> => {
  const res = await call("POST", "/queue/join", { user_id, ticket_type_id });
  expect(res.status).toBe(200);
  return res.body.queue_token;
};
const statusOf = async (token: string) => (await call("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body.status;
const reserved = (token: string) => waitFor("a hold", async () => (await statusOf(token)) === "reserved", 10_000);

describe("a sale, scraped", () => {
  let types: number[];
  let samples: Sample[];

  beforeAll(async () => {
    // wide: 6 people, each gets a hold; 2 confirm, 2 release, 2 let it expire.
    // narrow: 2 tickets for 3 people; 1 confirms, 1 lets it expire, so the third is served late and expires too.
    const wide = await env.ticketType({ capacity: 10, name: "Wide" });
    const narrow = await env.ticketType({ capacity: 2, name: "Narrow" });
    types = [wide, narrow];
    const wideTokens = [];
    for (let i = 0; i < 6; i++) wideTokens.push(await joinAs(`w${i}`, wide));
    const narrowTokens = [];
    for (let i = 0; i < 3; i++) narrowTokens.push(await joinAs(`n${i}`, narrow));

    for (const token of [...wideTokens, ...narrowTokens.slice(0, 2)]) await reserved(token);
    for (const token of [wideTokens[0]!, wideTokens[1]!, narrowTokens[0]!]) {
      expect((await call("POST", "/reservation/confirm", { token })).status).toBe(200);
    }
    for (const token of [wideTokens[2]!, wideTokens[3]!]) {
      expect((await call("POST", "/reservation/release", { token })).status).toBe(200);
    }
    // everyone served, and every hold ended: confirmed, released or expired by the cleaner
    await waitFor("the sale to end", async () => {
      const [row] = await env.sql`
        SELECT count(*) FILTER (WHERE status = 'held')::int AS held, count(*)::int AS holds FROM reservations`;
      return row!.held === 0 && row!.holds === 9;
    }, 20_000, 100);
    samples = await scrape();
    if (process.env.DUMP_METRICS) await Bun.write(process.env.DUMP_METRICS, await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text());
  });

  test("counters by ticket type equal PostgreSQL's counts", async () => {
    for (const type of types) {
      const [pg] = await env.sql`
        SELECT (SELECT count(*) FROM reservations WHERE ticket_type_id = ${type})::int AS holds,
               (SELECT count(*) FROM bookings WHERE ticket_type_id = ${type})::int AS bookings,
               (SELECT count(*) FROM reservations WHERE ticket_type_id = ${type} AND status = 'released')::int AS released,
               (SELECT count(*) FROM reservations WHERE ticket_type_id = ${type} AND status = 'expired')::int AS expired`;
      const of = (name: string) => valueOf(samples, name, { ticket_type: String(type) }) ?? 0;
      const counted = {
        type,
        joins: of("ticketqueue_joins_total"), // everyone who joined was served: one hold each
        holds: of("ticketqueue_holds_granted_total"),
        bookings: of("ticketqueue_confirmations_total"),
        released: of("ticketqueue_releases_total"),
        expired: of("ticketqueue_expiries_total"),
      };
      expect(counted).toEqual({ type, joins: pg!.holds, holds: pg!.holds, bookings: pg!.bookings, released: pg!.released, expired: pg!.expired });
    }
    // the sale did what it was meant to: every kind of ending happened
    const [wide, narrow] = types.map((t) => (name: string) => valueOf(samples, name, { ticket_type: String(t) }));
    expect([wide!("ticketqueue_holds_granted_total"), wide!("ticketqueue_confirmations_total"), wide!("ticketqueue_releases_total"), wide!("ticketqueue_expiries_total")]).toEqual([6, 2, 2, 2]);
    expect([narrow!("ticketqueue_holds_granted_total"), narrow!("ticketqueue_confirmations_total"), narrow!("ticketqueue_expiries_total")]).toEqual([3, 1, 2]);
  });

  test("the workers' figures are in the same scrape", () => {
    // the processor's
    expect(valueOf(samples, "ticketqueue_processor_batch_size_count")).toBeGreaterThan(0);
    expect(valueOf(samples, "ticketqueue_processor_batch_size_sum")).toBeGreaterThanOrEqual(9); // some went back and were claimed again
    for (const step of ["claim", "grant", "settle"]) {
      expect(valueOf(samples, `ticketqueue_processor_${step}_seconds_count`)).toBeGreaterThan(0);
    }
    expect(valueOf(samples, "ticketqueue_processor_grant_seconds_bucket", { le: "+Inf" })).toBe(valueOf(samples, "ticketqueue_processor_grant_seconds_count")!);
    // the cleaner's: one lag per expiry, none negative
    expect(valueOf(samples, "ticketqueue_cleaner_lag_seconds_count")).toBe(4);
    expect(valueOf(samples, "ticketqueue_cleaner_lag_seconds_sum")).toBeGreaterThanOrEqual(0);
    // the main thread's process metrics, once
    expect(valueOf(samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(valueOf(samples, "process_start_time_seconds")).toBeGreaterThan(0);
    expect(samples.filter((s) => s.name === "process_resident_memory_bytes")).toHaveLength(1);
  });

  test("gauges per ticket type: stock, held and people queued, as the stores say", async () => {
    for (const type of types) {
      const [row] = await env.sql`SELECT stock FROM ticket_types WHERE id = ${type}`;
      const labels = { ticket_type: String(type) };
      expect([valueOf(samples, "ticketqueue_stock", labels), valueOf(samples, "ticketqueue_held", labels), valueOf(samples, "ticketqueue_people_queued", labels)])
        .toEqual([row!.stock, 0, 0]);
    }
    expect(valueOf(samples, "ticketqueue_open_streams")).toBe(0);
  });

  test("route labels are patterns: no raw path, no query, no token", async () => {
    const lines = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    await fetch(`${base}/admin/ticket-types/${types[0]}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await fetch(`${base}/no/such-path-xyz?token=secret-in-query`);
    await fetch(`${base}/health`, { method: "HEAD" }); // answered by GET's route
    await fetch(`${base}/events/`); // no route's path: refused before any route, unmatched
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const after = parseMetrics(text);
    const requests = (labels: Record<string, string>) => valueOf(after, "ticketqueue_http_requests_total", labels);
    expect(requests({ route: "/reservation/status", method: "GET", status: "200" })).toBeGreaterThan(0);
    expect(requests({ route: "/queue/join", method: "POST", status: "200" })).toBe(9);
    expect(requests({ route: "/admin/ticket-types/:id", method: "GET", status: "200" })).toBe(1);
    expect(requests({ route: "unmatched", method: "GET", status: "404" })).toBe(2);
    expect(requests({ route: "/health", method: "HEAD", status: "200" })).toBe(1);
    expect(valueOf(after, "ticketqueue_http_request_duration_seconds_count", { route: "/queue/join", method: "POST", status: "200" })).toBe(9);
    for (const raw of ["such-path-xyz", "secret-in-query", "?", `/admin/ticket-types/${types[0]}"`]) expect(text).not.toContain(raw);
    // status lookups carried tokens in their query: none is in a scrape
    expect(lines).not.toMatch(/token=/);
  });
});

describe("the bearer check", () => {
  test("401 with WWW-Authenticate without a token or with a wrong one; 200 with METRICS_TOKEN or ADMIN_TOKEN", async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer nope" }, { authorization: `Basic ${btoa(`x:${METRICS_TOKEN}`)}` }];
    for (const headers of wrong) {
      const res = await fetch(`${base}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
      expect(await res.json()).toMatchObject({ error: "unauthorized" });
    }
    await scrape(METRICS_TOKEN);
    await scrape(ADMIN_TOKEN);
  });

  test("403 metrics_disabled when neither token is configured; the admin token alone opens it", async () => {
    const handle = async (config: Partial<typeof env.config>, token: string) => {
      const app = createApp({ ...env.s, config: { ...env.config, ...config } });
      return app.handle(new Request("http://localhost/metrics", { headers: { authorization: `Bearer ${token}` } }));
    };
    const off = await handle({ ADMIN_TOKEN: undefined, METRICS_TOKEN: undefined }, ADMIN_TOKEN);
    expect(off.status).toBe(403);
    expect(await off.json()).toMatchObject({ error: "metrics_disabled" });
    expect((await handle({ METRICS_TOKEN: undefined }, ADMIN_TOKEN)).status).toBe(200);
    expect((await handle({ METRICS_TOKEN: undefined }, METRICS_TOKEN)).status).toBe(401);
  });
});

test("the per-type gauges read the stores at most once a second", async () => {
  const type = await env.ticketType({ capacity: 5, name: "Cached" });
  const stock = async () => valueOf(await scrape(), "ticketqueue_stock", { ticket_type: String(type) });
  // the reading from before the type existed lasts its second; the next one has the type
  await waitFor("a reading with the type", async () => (await stock()) === 5, 3000);
  const readAt = Date.now();
  await env.sql`UPDATE ticket_types SET capacity = 7, stock = 7 WHERE id = ${type}`;
  expect(await stock()).toBe(5); // within the second: the cached reading
  await waitFor("the next reading", async () => (await stock()) === 7, 3000);
  expect(Date.now() - readAt).toBeGreaterThan(900); // not before its second was up
});

test("webhooks: deliveries by event type and outcome, latency, pending and the oldest pending's age", async () => {
  const well = await WebhookReceiver.start();
  const failing = await WebhookReceiver.start();
  failing.behaviour = { status: 500 };
  try {
    const ok = await subscribe(env, well.url, ["ticket_type.updated"]);
    const bad = await subscribe(env, failing.url, ["hold.released"]);
    await env.sql`SELECT webhook_emit('ticket_type.updated', now(), '{}'::jsonb) FROM generate_series(1, 3)`;
    await env.sql`SELECT webhook_emit('hold.released', now() - interval '1 minute', '{}'::jsonb)`;
    // the default schedule: the failed one's next attempt is 5 s away, so it stays pending meanwhile
    await waitFor("the outcomes recorded", async () =>
      (await env.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered' OR last_error IS NOT NULL`)[0]!.n === 4, 10_000);
    let samples: Sample[] = [];
    await waitFor("the outcomes counted", async () => {
      samples = await scrape();
      return valueOf(samples, "ticketqueue_webhook_deliveries_total", { event_type: "ticket_type.updated", outcome: "delivered" }) === 3
        && valueOf(samples, "ticketqueue_webhook_deliveries_total", { event_type: "hold.released", outcome: "retry" }) === 1
        && valueOf(samples, "ticketqueue_webhook_pending") === 1;
    }, 10_000, 250);
    expect(valueOf(samples, "ticketqueue_webhook_delivery_latency_seconds_count")).toBe(3);
    expect(valueOf(samples, "ticketqueue_webhook_request_seconds_count")).toBe(4);
    const [{ age }] = await env.sql`SELECT extract(epoch FROM now() - created_at)::float8 AS age FROM webhook_deliveries WHERE status = 'pending'`;
    const oldest = valueOf(samples, "ticketqueue_webhook_oldest_pending_seconds")!;
    expect(oldest).toBeGreaterThan(0);
    expect(oldest).toBeLessThanOrEqual(age + 0.01);
    await env.sql`UPDATE webhook_endpoints SET enabled = false WHERE id IN ${env.sql([ok.id, bad.id])}`;
  } finally {
    await well.stop();
    await failing.stop();
  }
});
