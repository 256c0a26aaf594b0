// Crash points: the processor stops dead between each pair of its steps (claim | grant |
// settle), another one starts, and in-flight recovery must leave I1-I5 intact and every
// token accounted for. In the control runs the new processor recovers nothing (it waits for a
// batch in flight to be older than it ever gets) and the same checks catch the leak.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Step } from "../src/processing/batch";
import { claimBatch } from "../src/processing/claim";
import { recoverInflight } from "../src/processing/recover";
import type { Processor } from "../src/processing/processor";
import { createTestEnv, joinMany, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ PROCESSOR_BATCH_SIZE: "20" });
});
afterAll(() => env.close());

class Crash extends Error {}

/** A processor that dies at `step` of its first batch; nothing after that point runs. */
function crashingProcessor(step: Step): Processor {
  let crashed = false;
  return env.processor({
    batch: {
      after: (at) => {
        if (at === step && !crashed) {
          crashed = true;
          throw new Crash(`crashed after ${step}`);
        }
      },
    },
  });
}

/** No batch in flight is ever this old: a processor given it as `recoverAfterMs` recovers nothing. */
const NEVER = Number.POSITIVE_INFINITY;

/**
 * The dead processor's lease lapses (as it would after LEASE_MS); a new one starts fresh and
 * recovers the batches in flight at least `recoverAfterMs` old (0: all of them at once).
 */
async function restart(ticketTypeId: number, recoverAfterMs = 0): Promise<Processor> {
  await env.s.redis.del(env.s.keys(ticketTypeId).lease);
  return env.processor({ recoverAfterMs });
}

/**
 * Every token that joined is somewhere a person can find it: holding (PostgreSQL and Redis
 * agree), queued in the list, or told it ended. Returns what is not.
 */
async function unaccounted(ticketTypeId: number, tokens: string[]): Promise<string[]> {
  const k = env.s.keys(ticketTypeId);
  const queue = new Set(await env.s.redis.lrange(k.queue, 0, -1));
  const holds = new Map(
    (await env.sql`SELECT token, status FROM reservations WHERE token = ANY(${tokens}::text[])`).map((r) => [r.token, r.status]),
  );
  const problems: string[] = [];
  for (const token of tokens) {
    const { id } = env.s.tokens.verify(token)!;
    const state = (await env.s.redis.scripts.lookup({ keys: k, id })).state ?? ""; // as status reads it
    const hold = holds.get(token);
    const fine =
      (hold === "held" && state === "reserved") ||
      (hold !== undefined && hold !== "held" && state === hold) ||
      (hold === undefined && state === "queued" && queue.has(id)) ||
      (hold === undefined && (state === "sold_out" || state === "released"));
    if (!fine) problems.push(`${token}: postgres ${hold ?? "no hold"}, redis ${state || "no record"}`);
  }
  return problems;
}

const crowd = (ticketTypeId: number, n: number) => joinMany(env, ticketTypeId, n, `p${ticketTypeId}-`);

describe("after a crash between steps, recovery leaves every invariant intact", () => {
  for (const step of ["claimed", "granted", "settled"] as const) {
    test(`crash after ${step}`, async () => {
      const type = await env.ticketType({ capacity: 30 });
      const tokens = await crowd(type, 50);
      await expect(crashingProcessor(step).tick()).rejects.toBeInstanceOf(Crash);

      await env.drain(await restart(type));
      expect(await unaccounted(type, tokens)).toEqual([]);
      // the first thirty in line hold, in join order; the rest wait behind the holds
      const order = await env.sql`SELECT queue_place FROM reservations WHERE ticket_type_id = ${type} ORDER BY grant_seq`;
      expect(order.map((r) => Number(r.queue_place))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(20);
      expect(await env.s.redis.hlen(env.s.keys(type).inflight)).toBe(0);
      await env.expectInvariants();
    });
  }

  test("a processor that recovers a batch and then crashes itself is recovered in turn", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const tokens = await crowd(type, 25);
    await expect(crashingProcessor("granted").tick()).rejects.toBeInstanceOf(Crash);
    await env.s.redis.del(env.s.keys(type).lease);
    const second = env.processor({
      recoverAfterMs: 0,
      batch: { after: (step) => { if (step === "claimed") throw new Crash("second crash"); } },
    });
    expect(await second.tick()).toBe(25); // finds both batches in flight (20 + 5) and recovers them
    await expect(second.tick()).rejects.toBeInstanceOf(Crash); // then dies on its own next batch
    await env.drain(await restart(type));
    expect(await unaccounted(type, tokens)).toEqual([]);
    await env.expectInvariants();
  });
});

describe("recovery order", () => {
  test("batches claimed in the same millisecond go back in queue order", async () => {
    const type = await env.ticketType({ capacity: 30 });
    await crowd(type, 6);
    const k = env.s.keys(type);
    const first = await claimBatch(env.s.redis, k, 2);
    const second = await claimBatch(env.s.redis, k, 2, [first.kind === "claimed" ? first.batchId : ""]);
    if (first.kind !== "claimed" || second.kind !== "claimed") throw new Error("expected two claims");
    // the same claim time for both (a sort on it alone keeps Redis' listing: claim order)
    const entries = await env.s.redis.hgetall(k.inflight);
    await env.s.redis.del(k.inflight);
    for (const id of [first.batchId, second.batchId]) {
      await env.s.redis.hset(k.inflight, id, entries[id]!.replace(/^\d+:/, "1000:"));
    }
    await recoverInflight({ sql: env.s.sql, redis: env.s.redis, tokens: env.s.tokens, keys: env.s.keys }, type, 0);
    const places = await Promise.all((await env.s.redis.lrange(k.queue, 0, -1)).map((id) => env.s.redis.hget(k.record(id), "place")));
    expect(places.map(Number)).toEqual([1, 2, 3, 4, 5, 6]);
    await env.drain(); // leaves no type waiting for the tests after this one
    await env.expectInvariants();
  });
});

describe("control: when nothing is recovered the same checks catch the leak", () => {
  test("a crash after claim strands people who are neither queued nor served", async () => {
    const type = await env.ticketType({ capacity: 30 });
    const tokens = await crowd(type, 50);
    await expect(crashingProcessor("claimed").tick()).rejects.toBeInstanceOf(Crash);
    const processor = await restart(type, NEVER);
    for (let i = 0; i < 20; i++) await processor.tick();
    const lost = await unaccounted(type, tokens);
    expect(lost).toHaveLength(20); // the batch in flight: pending forever
    expect(lost[0]).toContain("redis pending");
  });

  test("a crash after grant leaves holds that nobody was told about", async () => {
    const type = await env.ticketType({ capacity: 30 });
    const tokens = await crowd(type, 50);
    await expect(crashingProcessor("granted").tick()).rejects.toBeInstanceOf(Crash);
    const processor = await restart(type, NEVER);
    for (let i = 0; i < 20; i++) await processor.tick();
    const lost = await unaccounted(type, tokens);
    // the granted batch, and the ones claimed behind it while PostgreSQL worked
    const held = lost.filter((l) => l.includes("postgres held, redis pending"));
    const claimedAhead = lost.filter((l) => l.includes("postgres no hold, redis pending"));
    expect(held).toHaveLength(20);
    expect(claimedAhead.length).toBeGreaterThan(0);
    expect(lost).toHaveLength(held.length + claimedAhead.length);
  });
});
