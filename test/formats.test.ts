// Each text that crosses between the Lua scripts, PostgreSQL and TypeScript, written by its real
// writer (the script against real Redis through src/store/scripts.ts, the SQL function in a
// real database, decisionOf for the settle codes) and read by its one parser in
// src/store/formats.ts. test/lua.test.ts checks what else the scripts do.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  countLines, decisionOf, heldIds, lastPlaceOf, MALFORMED_LINE, parseBatchLine, parseBatchOutcome, parseGrantOutcome,
  parseInflightEntry, parseRefused, screenLines, WELL_FORMED_LINE, type Outcome,
} from "../src/store/formats";
import type { SettledState } from "../src/domain/states";
import { createTestEnv, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

let nextType = 3000;
const fresh = () => {
  const ticketTypeId = nextType++;
  return { ticketTypeId, k: env.s.keys(ticketTypeId), r: env.s.redis };
};

/** join-3.lua for each user in one call; the new token ids and signed tokens, in order. */
async function joinAll(ticketTypeId: number, users: [string, number][], options: { perUserLimit?: number; saleStartsAt?: number } = {}) {
  const joins = users.map(([userId, quantity]) => {
    const { id } = env.s.tokens.issue(ticketTypeId);
    return { id, userId, quantity, token: env.s.tokens.sign(ticketTypeId, id) };
  });
  const replies = await env.s.redis.scripts.join({
    keys: env.s.keys(ticketTypeId), perUserLimit: options.perUserLimit ?? 1000, joins, saleStartsAt: options.saleStartsAt,
  });
  return { joins, replies };
}

const claim = (ticketTypeId: number, size: number, batchId: string, owned: string[] = [], holdsPerMinute: number | null = null) =>
  env.s.redis.scripts.claim({ keys: env.s.keys(ticketTypeId), size, now: 1764571200123, batchId, owned, holdsPerMinute });

describe("written by the Lua scripts against real Redis", () => {
  test("batch line (enqueue.lua), claim reply and in-flight entry (claim-3.lua)", async () => {
    const { ticketTypeId, k, r } = fresh();
    const { joins } = await joinAll(ticketTypeId, [["émilie@example.com", 3], ["bob", 1]]);
    const line = (await r.hget(k.record(joins[0]!.id), "line"))!;
    expect(WELL_FORMED_LINE.test(line)).toBe(true);
    expect(parseBatchLine(line)).toEqual({ token: joins[0]!.token, userId: "émilie@example.com", quantity: 3, place: 1 });

    const reply = await claim(ticketTypeId, 5, "b1");
    const epoch = Number(await r.hget(k.meta, "epoch"));
    expect(reply).toEqual({ kind: "claimed", epoch, popped: 2, size: 2, lines: `${line}\n${joins[1]!.token}\tbob\t1\t2` });
    if (reply.kind !== "claimed") throw new Error("expected a claim");
    expect(countLines(reply.lines)).toBe(2);
    expect(lastPlaceOf(reply.lines)).toBe(2);
    expect(screenLines(reply.lines)).toBe(reply.lines); // what the script writes is well formed

    const entry = (await r.hget(k.inflight, "b1"))!;
    expect(parseInflightEntry(entry)).toEqual({ claimedAt: 1764571200123, ids: joins.map((j) => j.id) });
  });

  test("claim reply: busy, empty, limited; a damaged record's line is the malformed line", async () => {
    const { ticketTypeId, k, r } = fresh();
    expect(await claim(ticketTypeId, 5, "b0")).toEqual({ kind: "empty" });
    const { joins } = await joinAll(ticketTypeId, [["a", 1], ["b", 1], ["c", 1]]);
    const limited = await claim(ticketTypeId, 5, "b0", [], 1); // the bucket starts empty: one person a minute
    expect(limited).toMatchObject({ kind: "limited" });
    expect(limited.kind === "limited" && limited.retryInMs).toBeGreaterThan(59_000);

    await r.hdel(k.record(joins[0]!.id), "line"); // a damaged record
    const first = await claim(ticketTypeId, 1, "b1");
    expect(first).toMatchObject({ kind: "claimed", popped: 1, size: 1, lines: MALFORMED_LINE });
    expect(parseBatchLine(MALFORMED_LINE)).toMatchObject({ token: "", userId: "" });
    expect(await claim(ticketTypeId, 1, "b2")).toEqual({ kind: "busy" }); // b1 is in flight, not named as ours
  });

  test("join reply: each kind join-3.lua answers", async () => {
    const { ticketTypeId, k, r } = fresh();
    const { joins, replies } = await joinAll(ticketTypeId, [["a", 2], ["b", 1]]);
    expect(replies).toEqual([
      { kind: "joined", id: joins[0]!.id, place: 1, served: 0, quantity: 2, foundEmpty: true },
      { kind: "joined", id: joins[1]!.id, place: 2, served: 0, quantity: 1, foundEmpty: false },
    ]);
    expect((await joinAll(ticketTypeId, [["a", 1]])).replies).toEqual([
      { kind: "existing", id: joins[0]!.id, state: "queued", place: 1, served: 0, quantity: 2, expiresAt: null },
    ]);

    // a hold: the existing place reads reserved, with its deadline
    const claimed = await claim(ticketTypeId, 1, "held");
    if (claimed.kind !== "claimed") throw new Error("expected a claim");
    const deadline = Date.now() + 60_000;
    await env.s.redis.scripts.settle({ keys: k, batchId: "held", decision: decisionOf([{ state: "reserved", expiresAt: deadline }]), served: 1, rate: null });
    expect((await joinAll(ticketTypeId, [["a", 1]])).replies).toEqual([
      { kind: "existing", id: joins[0]!.id, state: "reserved", place: 1, served: 1, quantity: 2, expiresAt: deadline },
    ]);

    await r.hset(k.bought, "booked", 4);
    expect((await joinAll(ticketTypeId, [["booked", 1]], { perUserLimit: 4 })).replies).toEqual([{ kind: "limit", booked: 4 }]);

    await r.hset(k.users, "damaged", "broken-id");
    await r.set(k.record("broken-id"), "not a hash");
    const [error] = (await joinAll(ticketTypeId, [["damaged", 1]])).replies;
    expect(error).toMatchObject({ kind: "error", message: expect.stringContaining("WRONGTYPE") });
  });

  test("join reply before the sale: prequeued, then existing with no place", async () => {
    const { ticketTypeId } = fresh();
    const saleStartsAt = Date.now() + 3_600_000;
    const { joins, replies } = await joinAll(ticketTypeId, [["early", 3]], { saleStartsAt });
    expect(replies).toEqual([{ kind: "prequeued", id: joins[0]!.id, served: 0, quantity: 3 }]);
    expect((await joinAll(ticketTypeId, [["early", 1]], { saleStartsAt })).replies).toEqual([
      { kind: "existing", id: joins[0]!.id, state: "waiting_for_sale", place: 0, served: 0, quantity: 3, expiresAt: null },
    ]);
  });

  test("every settle code decisionOf writes, settle-4.lua reads as its state; the batch outcome it writes", async () => {
    const { ticketTypeId, k, r } = fresh();
    const states: SettledState[] = ["reserved", "queued", "sold_out", "duplicate", "invalid", "limit_reached", "confirmed", "expired", "released", "reserved"];
    const { joins } = await joinAll(ticketTypeId, states.map((_, i) => [`u${i}`, 1] as [string, number]));
    const claimed = await claim(ticketTypeId, states.length, "all");
    expect(claimed).toMatchObject({ kind: "claimed", size: states.length });
    const deadline = Date.now() + 60_000;
    const outcomes: Outcome[] = states.map((state, i) => (state === "reserved" ? { state, expiresAt: deadline + (i === 0 ? 0 : 7) } : { state }));
    await env.s.redis.scripts.settle({ keys: k, batchId: "all", decision: decisionOf(outcomes), served: 0, rate: 12.5 });

    const seen = await Promise.all(joins.map((j) => env.s.redis.scripts.lookup({ keys: k, id: j.id })));
    expect(seen.map((l) => l.state)).toEqual(states);
    expect(seen[9]!.expiresAt).toBe(deadline + 7); // a hold's own deadline (an override)

    const outcome = parseBatchOutcome((await r.get(k.batchPrefix + "all"))!);
    expect(outcome).toEqual({ deadline, codes: "RQSDILCEXR", ids: joins.map((j) => j.id) });
    expect(heldIds(outcome)).toEqual([joins[0]!.id, joins[9]!.id]);
  });

  test("batch outcome with no shared deadline (only holds with their own)", async () => {
    const { ticketTypeId, k, r } = fresh();
    const { joins } = await joinAll(ticketTypeId, [["a", 1], ["b", 1]]);
    await claim(ticketTypeId, 2, "own");
    const own = Date.now() + 60_000;
    await env.s.redis.scripts.settle({ keys: k, batchId: "own", decision: { codes: "QR", deadline: null, overrides: [2, own] }, served: 0, rate: null });
    const outcome = parseBatchOutcome((await r.get(k.batchPrefix + "own"))!);
    expect(outcome).toEqual({ deadline: null, codes: "QR", ids: joins.map((j) => j.id) });
    expect(heldIds(outcome)).toEqual([joins[1]!.id]);
  });

  test("lookup reply: known and unknown fields, a booking, a word the model does not know", async () => {
    const { ticketTypeId, k, r } = fresh();
    expect(await env.s.redis.scripts.lookup({ keys: k, id: "nobody" })).toEqual({
      state: null, quantity: null, place: null, expiresAt: null, bookingId: null, served: 0, rate: null, bookingRef: null,
    });
    const { joins } = await joinAll(ticketTypeId, [["a", 2], ["b", 1]]);
    await claim(ticketTypeId, 2, "look");
    const deadline = Date.now() + 60_000;
    await env.s.redis.scripts.settle({
      keys: k, batchId: "look", decision: decisionOf([{ state: "reserved", expiresAt: deadline }, { state: "reserved", expiresAt: deadline }]),
      served: 2, rate: 1234.5,
    });
    expect(await env.s.redis.scripts.lookup({ keys: k, id: joins[0]!.id })).toEqual({
      state: "reserved", quantity: 2, place: 1, expiresAt: deadline, bookingId: null, served: 2, rate: 1234.5, bookingRef: null,
    });
    await env.s.redis.scripts.finish({ keys: k, ended: [{ id: joins[0]!.id, state: "confirmed", bookingId: 42, bookingRef: "7K3QX9M2TD" }] });
    expect(await env.s.redis.scripts.lookup({ keys: k, id: joins[0]!.id })).toMatchObject({
      state: "confirmed", quantity: 2, place: 1, bookingId: 42, bookingRef: "7K3QX9M2TD",
    });
    await r.hset(k.record(joins[1]!.id), "state", "teleported");
    expect((await env.s.redis.scripts.lookup({ keys: k, id: joins[1]!.id })).state).toBeNull();
  });
});

describe("written by PostgreSQL", () => {
  const token = (name: string) => `${name}`.padEnd(48, "x");
  const line = (name: string, user: string, quantity: number, place: number) => `${token(name)}\t${user}\t${quantity}\t${place}`;

  test("grant_holds's refused list: each refused person as its state; null for nobody", async () => {
    const type = await env.ticketType({ capacity: 10, per_user_limit: 2 });
    const lines = [line("r1", "ok1", 1, 1), MALFORMED_LINE, line("r3", "greedy", 3, 3), line("r4", "ok2", 1, 4)].join("\n");
    const [refused] = await env.sql<{ refused: string | null }[]>`SELECT refused FROM grant_holds(${type}, 1, ${lines}, 60)`;
    expect(parseRefused(refused!.refused)).toEqual(new Map([[2, "invalid"], [3, "limit_reached"]]));
    const [none] = await env.sql<{ refused: string | null }[]>`SELECT refused FROM grant_holds(${type}, 1, ${line("r5", "ok3", 1, 5)}, 60)`;
    expect(none!.refused).toBeNull();
    expect(parseRefused(none!.refused)).toEqual(new Map());
  });

  test("grant_holds_carefully's outcomes, each in the words of the states", async () => {
    const type = await env.ticketType({ capacity: 5, per_user_limit: 6 });
    await env.sql`SELECT * FROM grant_holds(${type}, 1, ${line("held", "dup", 1, 1)}, 60)`;
    const lines = [
      line("held", "dup", 1, 1), // the same token again: prior
      line("granted", "g", 1, 2),
      line("other", "dup", 1, 3), // the user holds under another token: duplicate
      MALFORMED_LINE,
      line("greedy", "greedy", 7, 5), // over per_user_limit
      line("wait", "w", 4, 6), // more than the stock left
    ].join("\n");
    const rows = await env.sql<{ outcome: string }[]>`SELECT outcome FROM grant_holds_carefully(${type}, 1, ${lines}, 60)`;
    expect(rows.map((r) => parseGrantOutcome(r.outcome))).toEqual(["prior", "granted", "duplicate", "invalid", "limit_reached", "waiting"]);

    await env.sql`UPDATE ticket_types SET paused = true WHERE id = ${type}`;
    const closed = await env.sql<{ outcome: string }[]>`SELECT outcome FROM grant_holds_carefully(${type}, 1, ${line("late", "l", 1, 7)}, 60)`;
    expect(closed.map((r) => parseGrantOutcome(r.outcome))).toEqual(["closed"]);
  });
});

describe("the well-formed-line rule: TypeScript's screening and batch_line_well_formed() agree", () => {
  const token = "A".repeat(48);
  const lines: [string, boolean][] = [
    [`${token}\tu\t1\t1`, true],
    [`${"aZ09_-".repeat(8)}\témilie@example.com\t999999\t999999999999999999`, true],
    [`${token}\tu😀\t1\t1`, true],
    [MALFORMED_LINE, false],
    [`${"A".repeat(47)}\tu\t1\t1`, false],
    [`${"A".repeat(49)}\tu\t1\t1`, false],
    [`${"A".repeat(47)}!\tu\t1\t1`, false],
    [`${"A".repeat(47)}/\tu\t1\t1`, false],
    [`${token}\t\t1\t1`, false],
    [`${token}\tu\x07\t1\t1`, false],
    [`${token}\tu\x85\t1\t1`, false],
    [`${token}\tu\x7f\t1\t1`, false],
    [`${token}\tu\t0\t1`, false],
    [`${token}\tu\t1000000\t1`, false],
    [`${token}\tu\t1e0\t1`, false],
    [`${token}\tu\t-1\t1`, false],
    [`${token}\tu\t 1\t1`, false],
    [`${token}\tu\t1\t0`, false],
    [`${token}\tu\t1\t1000000000000000000`, false],
    [`${token}\tu\t1\t1\textra`, false],
    [`${token}\tu\t1`, false],
    ["", false],
  ];

  test("each side gives the expected answer on every line", async () => {
    const inSql = await env.sql<{ ok: boolean }[]>`
      SELECT batch_line_well_formed(l) AS ok FROM unnest(${lines.map(([l]) => l)}::text[]) WITH ORDINALITY AS t(l, ord) ORDER BY ord`;
    expect(inSql.map((r) => r.ok)).toEqual(lines.map(([, ok]) => ok));
    expect(lines.map(([l]) => WELL_FORMED_LINE.test(l))).toEqual(lines.map(([, ok]) => ok));
    // screening keeps exactly the well-formed lines and blanks the rest
    const batch = lines.filter(([l]) => l !== "").map(([l]) => l);
    expect(screenLines(batch.join("\n")).split("\n")).toEqual(batch.map((l) => (WELL_FORMED_LINE.test(l) ? l : MALFORMED_LINE)));
    expect(screenLines("")).toBe("");
  });
});
