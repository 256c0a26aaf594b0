// The sale comes first: while the instance's processor is granting (the sale pulse), the
// webhooks worker keeps at most WEBHOOK_BUSY_CONCURRENCY requests in flight; and it expands
// grant batches into deliveries just in time, when its claims run dry, never a rush's worth at
// once. The dispatcher runs here directly, against a receiver that never answers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Dispatcher, type DispatcherOptions } from "../src/webhooks/dispatcher";
import { createTestEnv, joinMany, quietLog, stays, waitFor, type TestEnv } from "./helpers";
import { subscribe, WebhookReceiver } from "./webhook-receiver";

let env: TestEnv;
let receiver: WebhookReceiver;
beforeAll(async () => {
  env = await createTestEnv();
  receiver = await WebhookReceiver.start();
  receiver.behaviour = { hang: true };
});
afterAll(async () => {
  receiver?.release();
  await receiver?.stop();
  await env?.close();
});

const OPTIONS: DispatcherOptions = {
  concurrency: 64, perEndpoint: 64, busyConcurrency: 3, timeoutMs: 60_000, pollMs: 20, retrySchedule: "0,60", retentionDays: 7,
};

/** Runs a dispatcher until `check` is done, then stops it. */
async function running(options: Partial<DispatcherOptions>, check: () => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const run = new Dispatcher({ sql: env.sql, log: quietLog, metrics: env.s.metrics }, { ...OPTIONS, ...options }).run(stop.signal);
  try {
    await check();
  } finally {
    stop.abort();
    receiver.release();
    await run;
  }
}

test("a busy sale: at most WEBHOOK_BUSY_CONCURRENCY in flight; the rest when it is over", async () => {
  const { id } = await subscribe(env, receiver.url, ["ticket_type.updated"]);
  await env.sql`SELECT webhook_emit('ticket_type.updated', now(), jsonb_build_object('n', n)) FROM generate_series(1, 20) n`;
  let busy = true;
  await running({ saleIsBusy: () => busy }, async () => {
    await waitFor("three requests", () => receiver.received.length === 3, 5_000);
    await stays("no more than three", () => receiver.received.length === 3, 300);
    busy = false;
    await waitFor("all twenty in flight", () => receiver.received.length === 20, 5_000);
  });
  await env.sql`DELETE FROM webhook_endpoints WHERE id = ${id}`;
  receiver.received.length = 0;
});

test("grant batches are expanded when the claims run dry, not as they come", async () => {
  const { id } = await subscribe(env, receiver.url, ["hold.granted"]);
  const type = await env.ticketType({ capacity: 300 });
  await joinMany(env, type, 300, "pace");
  await env.drain(); // three grant batches of 100
  const batches = async () => (await env.sql`SELECT count(*)::int AS n FROM webhook_grant_batches`)[0]!.n;
  expect(await batches()).toBe(3);
  await running({ concurrency: 5, perEndpoint: 5 }, async () => {
    await waitFor("five requests", () => receiver.received.length === 5, 5_000);
    // the first batch's 100 deliveries wait to be claimed: the other two batches stay as they are
    await stays("two batches left", async () => (await batches()) === 2, 300);
  });
  expect((await env.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = ${id}`)[0]!.n).toBe(100);
});
