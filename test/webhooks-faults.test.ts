// Webhook delivery through faults (issue #21): two instances as processes of their own on a
// PostgreSQL of the test's own; one killed (SIGKILL) with deliveries in flight, PostgreSQL
// stopped and started again, the receiver down for 20 s and then answering 500 to each
// message's first attempt. After recovery every event arrived at least once; deduplicated by
// webhook-id, the receiver has exactly the events PostgreSQL wrote, each signed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join as joinPath } from "node:path";
import { listeningPort } from "../bench/harness";
import { createSql, type Sql } from "../src/store/db";
import { LocalPostgres } from "../scripts/local-servers";
import { deleteKeys, REDIS_URL, waitFor } from "./helpers";
import { subscribe, WebhookReceiver } from "./webhook-receiver";

const PREFIX = `test:webhook-faults:${crypto.randomUUID().slice(0, 8)}:`;
let pg: LocalPostgres;
let sql: Sql;
let receiver: WebhookReceiver;
const children: ReturnType<typeof Bun.spawn>[] = [];

beforeAll(async () => {
  pg = await LocalPostgres.start();
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await sql?.end({ timeout: 1 });
  receiver?.release();
  await receiver?.stop();
  await pg?.stop();
  await deleteKeys(REDIS_URL, PREFIX);
});

/** An instance as a process of its own (a SIGKILL kills it whole, as a crash would). */
async function spawnInstance(): Promise<ReturnType<typeof Bun.spawn>> {
  const child = Bun.spawn(["bun", joinPath(import.meta.dir, "..", "src", "main.ts"), "serve"], {
    env: {
      ...process.env, DATABASE_URL: pg.url, REDIS_URL, REDIS_KEY_PREFIX: PREFIX, TOKEN_SECRET: "faults-secret-".padEnd(40, "x"),
      LOG_LEVEL: "info", RATE_LIMITS: "off", PORT: "0", HTTP_THREADS: "1",
      WEBHOOK_TIMEOUT_MS: "2000", WEBHOOK_POLL_MS: "50",
      // 41 s of retries in all: longer than the receiver's 20 s away
      WEBHOOK_RETRY_SCHEDULE: "0,1,2,3,5,5,5,5,5,5,5",
    },
    stdout: "pipe",
    stderr: "ignore",
  });
  children.push(child);
  await listeningPort(child.stdout as ReadableStream<Uint8Array>);
  return child;
}

/** `count` events, each its own transaction's (one statement each). */
async function emit(count: number): Promise<void> {
  await sql`SELECT webhook_emit('ticket_type.updated', now(), jsonb_build_object('n', n)) FROM generate_series(1, ${count}) n`;
}

test("a killed instance, a PostgreSQL restart, a receiver down 20 s then failing first attempts: every event arrives, exactly those", async () => {
  const [doomed] = [await spawnInstance(), await spawnInstance()];
  sql = createSql(pg.url, { max: 2 });
  const { secret } = await subscribe({ sql }, receiver.url, ["*"]);
  receiver.secrets = [secret];

  // 1. killed mid-delivery: slow answers keep deliveries in flight on both instances
  receiver.behaviour = { delayMs: 300 };
  await emit(400);
  await waitFor("deliveries in flight", () => receiver.received.length >= 50, 10_000);
  doomed!.kill("SIGKILL");
  await doomed!.exited;

  // 2. PostgreSQL stopped and started again, events before and after
  await emit(100);
  await pg.down();
  await Bun.sleep(3000); // an outage of some length, by design
  await pg.up();
  await waitFor("PostgreSQL answering the test", async () => {
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    }
  }, 20_000, 200);
  await emit(100);

  // 3. the receiver away for 20 s, then failing each message's first attempt it sees
  await receiver.down();
  await emit(100);
  await Bun.sleep(20_000); // the receiver's absence, by design
  receiver.behaviour = { failFirst: 1 };
  receiver.up();
  await emit(50);

  await waitFor("every delivery delivered", async () =>
    (await sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'delivered'`)[0]!.n === 0, 90_000, 500);
  const written = (await sql`SELECT message_id, status FROM webhook_deliveries`).map((r) => r.message_id as string);
  expect(written).toHaveLength(750);
  const arrived = new Set(receiver.received.filter((r) => r.answered === 200).map((r) => r.id));
  expect([...arrived].sort()).toEqual([...written].sort());
  expect(receiver.received.every((r) => r.verified)).toBe(true);
  const failedRows = await sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'failed'`;
  expect(failedRows[0]!.n).toBe(0);
}, 180_000);
