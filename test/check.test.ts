// Drift in the stock ledger (I2) is found and reported: by `ticket-queue check`, which exits 1,
// and by the cleaner, which logs it at error level.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cleaner } from "../src/expiry/cleaner";
import type { Fields } from "../src/core/log";
import { createTestEnv, join, quietLog, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

async function check() {
  const child = Bun.spawn(["bun", "src/main.ts", "check"], {
    env: { ...process.env, DATABASE_URL: env.config.DATABASE_URL },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: await child.exited, out: await new Response(child.stdout).text() };
}

test("check passes while stock adds up, and exits 1 naming the type once it drifts", async () => {
  const type = await env.ticketType({ capacity: 10 });
  await join(env, "alice", type, 2);
  await env.drain();

  const clean = await check();
  expect(clean.out).toContain(`ok    ticket type ${type} "Floor": capacity 10 = stock 8 + held 2 + confirmed 0`);
  expect(clean.code).toBe(0);

  await env.sql`UPDATE ticket_types SET stock = stock - 1 WHERE id = ${type}`; // a seat lost by a bug
  const drifted = await check();
  expect(drifted.out).toContain(`DRIFT ticket type ${type} "Floor": capacity 10 <> stock 7 + held 2 + confirmed 0`);
  expect(drifted.code).toBe(1);

  const logged: { message: string; fields?: Fields }[] = [];
  const log = { ...quietLog, error: (message: string, fields?: Fields) => void logged.push({ message, fields }) };
  await new Cleaner({ ...env.s, log, intervalMs: 1000 }).tick();
  expect(logged).toContainEqual({
    message: "STOCK DRIFT: a ticket type's stock does not add up",
    fields: { ticket_type_id: type, detail: "capacity 10 <> stock 7 + held 2 + confirmed 0" },
  });
  await env.sql`UPDATE ticket_types SET stock = stock + 1 WHERE id = ${type}`;
});
