// The example receiver of docs/webhooks.md (examples/webhook-receiver.ts), run as its own
// process as a shop would run it, registered through the admin API: it verifies and acts on
// what a real instance sends, once per webhook-id, and refuses a forged request.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { startService, type RunningService } from "../src/server";
import { ADMIN_AUTH, ADMIN_TOKEN, createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;
let instance: RunningService;
let example: ReturnType<typeof Bun.spawn> | null = null;
const printed: any[] = [];

beforeAll(async () => {
  env = await createTestEnv({ ADMIN_TOKEN, PORT: "0", LOG_LEVEL: "error", WEBHOOK_POLL_MS: "20" });
  instance = await startService(env.config, quietLog);
});
afterAll(async () => {
  example?.kill();
  await instance?.stop(5000);
  await env?.close();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${instance.port}${path}`, {
    method, headers: { "content-type": "application/json", ...ADMIN_AUTH }, body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};

/** Starts the example with `secret` on a port it picks; collects the lines it prints; its port. */
async function startExample(secret: string): Promise<number> {
  example = Bun.spawn(["bun", "examples/webhook-receiver.ts"], {
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: "0" }, stdout: "pipe", stderr: "inherit",
  });
  const lines = (async () => {
    let rest = "";
    for await (const chunk of example!.stdout as ReadableStream<Uint8Array>) {
      rest += new TextDecoder().decode(chunk);
      const done = rest.split("\n");
      rest = done.pop()!;
      for (const line of done) printed.push(JSON.parse(line));
    }
  })();
  void lines;
  await waitFor("the example listening", () => printed.some((p) => p.listening), 10_000);
  return printed.find((p) => p.listening).listening;
}

test("the example receiver verifies what an instance sends, acts once per webhook-id, refuses a forgery", async () => {
  const created = await admin("POST", "/admin/webhooks", { url: "http://127.0.0.1:9/not-yet", events: ["ticket_type.updated"] });
  expect(created.status).toBe(201);
  const port = await startExample(created.body.secret);
  const url = `http://127.0.0.1:${port}/hooks`;
  expect((await admin("PATCH", `/admin/webhooks/${created.body.id}`, { url })).status).toBe(200);

  const type = await env.ticketType({ capacity: 5 });
  expect((await admin("PATCH", `/admin/ticket-types/${type}`, { capacity: 7 })).status).toBe(200);
  await waitFor("the event acted on", () => printed.some((p) => p.type === "ticket_type.updated"), 15_000);
  const acted = printed.find((p) => p.type === "ticket_type.updated");
  expect(acted.data).toMatchObject({ ticket_type_id: type, capacity: 7, changes: { capacity: { old: 5, new: 7 } } });

  // the same webhook-id again (a retry after a lost answer): 204, not acted on twice
  const [delivery] = await env.sql`SELECT message_id, payload::text AS body FROM webhook_deliveries WHERE endpoint_id = ${created.body.id}`;
  const now = new Date();
  const signed = (secret: string) => ({
    "webhook-id": delivery!.message_id, "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(delivery!.message_id, now, delivery!.body),
  });
  const again = await fetch(url, { method: "POST", headers: signed(created.body.secret), body: delivery!.body });
  expect(again.status).toBe(204);
  // signed with another secret: refused
  const forged = await fetch(url, { method: "POST", headers: signed(`whsec_${btoa("someone else's secret")}`), body: delivery!.body });
  expect(forged.status).toBe(400);
  expect(printed.filter((p) => p.type === "ticket_type.updated")).toHaveLength(1);
}, 60_000);
