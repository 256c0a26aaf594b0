// What a queued place is told it waits for (issue #18): every ticket held by people ahead (their
// hold deadlines, not an old serving rate, say when one may come back); a sale whose start was
// moved into the future (the place is kept). And GET /events' pre-queue opening time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { EventList, StatusAnswer } from "../src/api/schemas";
import { createTestEnv, join, statusOf, waitFor, type TestEnv } from "./helpers";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv({ PREQUEUE_MINUTES: "15" });
});
afterAll(async () => {
  await env?.close();
});

const documented = (answer: unknown) => expect([...Value.Errors(StatusAnswer, answer)].map((e) => `${e.path} ${e.message}`)).toEqual([]);

async function holdDeadline(token: string): Promise<Date> {
  const [row] = await env.sql`SELECT expires_at FROM reservations WHERE token = ${token} AND status = 'held'`;
  return row!.expires_at as Date;
}

describe("every ticket held by people ahead", () => {
  test("the place waits for the earliest hold deadline, not for a rate's estimate; and is served when a ticket comes back", async () => {
    const type = await env.ticketType({ capacity: 2, per_user_limit: 1 });
    const holders = [await join(env, "holder-a", type), await join(env, "holder-b", type)];
    await env.drain(); // both hold: stock 0, and a serving rate to guess from
    await env.sql`UPDATE reservations SET expires_at = expires_at + interval '30 seconds' WHERE token = ${holders[1]!}`;
    const waiters = [await join(env, "waiter-1", type), await join(env, "waiter-2", type)];
    env.s.catalog.invalidate();

    const first = await statusOf(env, waiters[0]!);
    const deadline = await holdDeadline(holders[0]!); // the earlier of the two
    expect(first).toEqual({
      status: "queued", ticket_type_id: type, quantity: 1, position: 1,
      waiting_for_held_tickets: true, next_release_at: deadline.toISOString(),
      message: `All tickets are held by people ahead of you; the next may come back by ${deadline.toISOString().slice(11, 19)} UTC.`,
    });
    documented(first);
    expect(await statusOf(env, waiters[1]!)).toMatchObject({ position: 2, waiting_for_held_tickets: true, next_release_at: deadline.toISOString() });

    // a ticket comes back: the first waiter holds it; stock is 0 again, and its deadline is now the earliest
    expect((await env.post("/reservation/release", { token: holders[0]! })).status).toBe(200);
    await env.drain();
    expect((await statusOf(env, waiters[0]!)).status).toBe("reserved");
    const next = await holdDeadline(waiters[0]!);
    // once the held reading's second is up
    await waitFor("the next deadline", async () => {
      env.s.catalog.invalidate();
      return (await statusOf(env, waiters[1]!)).next_release_at === next.toISOString();
    }, 3000);
    expect(await statusOf(env, waiters[1]!)).toMatchObject({ status: "queued", position: 1, next_release_at: next.toISOString() });
  });

  test("with stock left the place is a plain queued place (the estimate, no held-ticket fields)", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const token = await join(env, "plain", type);
    const answer = await statusOf(env, token);
    expect(answer).toMatchObject({ status: "queued", position: 1 });
    expect(answer).not.toHaveProperty("waiting_for_held_tickets");
    expect(answer).not.toHaveProperty("next_release_at");
  });

  test("a crowd asking at once costs PostgreSQL one read of the holds", async () => {
    const type = await env.ticketType({ capacity: 1 });
    await join(env, "crowd-holder", type);
    await env.drain();
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => join(env, `crowd-${i}`, type)));
    env.s.catalog.invalidate();
    const before = env.s.heldTickets.loads;
    const answers = await Promise.all(tokens.map((token) => statusOf(env, token)));
    expect(answers.every((a) => a.waiting_for_held_tickets === true)).toBe(true);
    expect(env.s.heldTickets.loads - before).toBe(1);
  });
});

describe("a sale whose start was moved into the future", () => {
  test("a queued place keeps its number and is told when the sale now starts", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const tokens = [await join(env, "early-1", type), await join(env, "early-2", type)];
    const [row] = await env.sql`
      UPDATE ticket_types SET sale_starts_at = now() + interval '1 hour' WHERE id = ${type} RETURNING sale_starts_at`;
    env.s.catalog.invalidate();
    const startsAt = row!.sale_starts_at as Date;

    const answer = await statusOf(env, tokens[1]!);
    const at = `${startsAt.toISOString().slice(0, 16).replace("T", " ")} UTC`;
    expect(answer).toEqual({
      status: "queued", ticket_type_id: type, quantity: 1, position: 2, sale_starts_at: startsAt.toISOString(),
      message: `The sale was moved to ${at}; you keep your place (number 2) and are served after it starts.`,
    });
    documented(answer);

    // moved back: a plain place again
    await env.sql`UPDATE ticket_types SET sale_starts_at = NULL WHERE id = ${type}`;
    env.s.catalog.invalidate();
    expect(await statusOf(env, tokens[1]!)).not.toHaveProperty("sale_starts_at");
  });
});

describe("GET /events", () => {
  test("names when a type's pre-queue opens: its sale start less PREQUEUE_MINUTES; null without a sale start", async () => {
    const later = await env.ticketType({ capacity: 5, name: "Later" });
    const open = await env.ticketType({ capacity: 5, name: "Open" });
    const [row] = await env.sql`
      UPDATE ticket_types SET sale_starts_at = now() + interval '1 hour' WHERE id = ${later} RETURNING sale_starts_at`;
    env.s.catalog.invalidate();
    const events = (await env.call("GET", "/events")).body;
    expect([...Value.Errors(EventList, events)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
    const types = new Map(events.flatMap((e: any) => e.ticket_types).map((t: any) => [t.id, t]));
    const opensAt = new Date((row!.sale_starts_at as Date).getTime() - 15 * 60_000).toISOString();
    expect(types.get(later)).toMatchObject({ status: "not_on_sale", prequeue_opens_at: opensAt });
    expect(types.get(open)).toMatchObject({ status: "on_sale", prequeue_opens_at: null });
  });
});
