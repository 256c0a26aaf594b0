// What an outsider or a damaged record can do at the edges of the core: a malformed person in
// a batch, a user over their limit across tokens, a release after the deadline, a quantity
// no stock can ever cover, a flood of unknown ticket types. Real Redis and PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Sql } from "../src/store/db";
import { Catalog } from "../src/events/catalog";
import { claimBatch } from "../src/processing/claim";
import { MALFORMED_LINE, screenLines } from "../src/store/formats";
import { recoverInflight } from "../src/processing/recover";
import { grantHolds } from "../src/processing/grant";
import { createTestEnv, join, quietLog, statusOf, type TestEnv } from "./helpers";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const recordOf = (token: string) => {
  const { ticketTypeId, id } = env.s.tokens.verify(token)!;
  return env.s.keys(ticketTypeId).record(id);
};

describe("a damaged record never stops a queue", () => {
  test("each malformed person is set aside as invalid; everyone else in the batch and behind it is served", async () => {
    const type = await env.ticketType({ capacity: 20 });
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) tokens.push(await join(env, `dmg${i}`, type));
    const line = async (token: string) => (await env.s.redis.hget(recordOf(token), "line"))!;
    const fields = async (token: string) => (await line(token)).split("\t");
    const damage = async (token: string, index: number, value: string) => {
      const f = await fields(token);
      f[index] = value;
      await env.s.redis.hset(recordOf(token), "line", f.join("\t"));
    };
    await damage(tokens[1]!, 2, "0"); // quantity 0: the CHECK constraint used to fail the whole batch
    await damage(tokens[2]!, 2, "abc"); // not a number: a cast error used to fail it
    await damage(tokens[3]!, 2, "-5");
    await env.s.redis.hdel(recordOf(tokens[4]!), "line"); // no line at all
    await env.s.redis.hset(recordOf(tokens[5]!), "line", `${await line(tokens[5]!)}\nforged\tx\t1\t1`); // would split in two
    await damage(tokens[6]!, 3, "1e0"); // a place that is not a whole number

    const warned: unknown[] = [];
    const processor = env.processor({ log: { ...quietLog, warn: (message, fields) => void warned.push({ message, ...fields }) } });
    await env.drain(processor);
    expect(warned).toContainEqual({ message: "set aside malformed queue records", ticket_type_id: type, invalid: 6 });
    const statuses = await Promise.all(tokens.map(async (t) => (await statusOf(env, t)).status));
    expect(statuses).toEqual(["reserved", "invalid", "invalid", "invalid", "invalid", "invalid", "invalid", "reserved"]);
    expect((await statusOf(env, tokens[1]!)).message).toContain("join the queue again".replace("join", "Join"));
    expect(await env.stockOf(type)).toBe(18);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
    expect(await env.s.redis.hlen(env.s.keys(type).inflight)).toBe(0);
    // nothing but the two genuine holds reached PostgreSQL
    expect(await env.sql`SELECT 1 FROM reservations WHERE ticket_type_id = ${type}`).toHaveLength(2);

    // the people behind keep moving, and an invalid person may join again
    const later = await join(env, "dmg-later", type);
    const again = await join(env, "dmg1", type);
    await env.drain(processor);
    expect((await statusOf(env, later)).status).toBe("reserved");
    expect((await statusOf(env, again)).status).toBe("reserved");
    expect((await env.post("/reservation/confirm", { token: tokens[1] })).body.error).toBe("invalid");
    await env.expectInvariants();
  });

  test("screening blanks exactly the malformed lines; the grant refuses a malformed line on its own too", async () => {
    const token = (i: number) => `tok${i}`.padEnd(48, "x");
    const good = (i: number) => `${token(i)}\tuser-${i}\t1\t${i}`;
    const bad = [`${token(2)}\tuser-2\tabc\t2`, `${token(3)}\tuser-3\t1\t-3`, `${token(4)}\t\t1\t4`, "short\tuser-5\t1\t5"];
    const lines = [good(1), ...bad, good(6)].join("\n");
    expect(screenLines(lines).split("\n")).toEqual([good(1), MALFORMED_LINE, MALFORMED_LINE, MALFORMED_LINE, MALFORMED_LINE, good(6)]);
    expect(screenLines(good(1))).toBe(good(1));

    // unscreened: the fast path's cast fails, the careful path checks each field itself
    const type = await env.ticketType({ capacity: 10 });
    const grant = await grantHolds(env.sql, type, 1, lines, 60);
    expect(grant.rows?.map((r) => r.outcome)).toEqual(["granted", "invalid", "invalid", "invalid", "invalid", "granted"]);
    expect(await env.stockOf(type)).toBe(8);
  });
});

describe("per_user_limit counts a person, not a hold", () => {
  test("join, confirm, join again: refused at join once the limit is booked, saying how many remain", async () => {
    const type = await env.ticketType({ capacity: 50, per_user_limit: 3 });
    const first = await join(env, "lim", type, 2);
    await env.drain();
    expect((await env.post("/reservation/confirm", { token: first })).status).toBe(200);

    const over = await env.post("/queue/join", { user_id: "lim", ticket_type_id: type, quantity: 2 });
    expect(over.status).toBe(409);
    expect(over.body.error).toBe("limit_reached");
    expect(over.body.message).toContain("1 remain");
    expect(over.body.remaining).toBe(1);

    const last = await join(env, "lim", type, 1);
    await env.drain();
    expect((await env.post("/reservation/confirm", { token: last })).status).toBe(200);
    const none = await env.post("/queue/join", { user_id: "lim", ticket_type_id: type, quantity: 1 });
    expect(none.body).toMatchObject({ error: "limit_reached" });
    expect(none.body.message).toContain("0 remain");
    const [booked] = await env.sql`SELECT sum(quantity)::int AS n FROM bookings WHERE ticket_type_id = ${type} AND user_id = 'lim'`;
    expect(booked!.n).toBe(3);
    await env.expectInvariants();
  });

  test("PostgreSQL decides at grant time when Redis has forgotten what the user booked", async () => {
    const type = await env.ticketType({ capacity: 50, per_user_limit: 2 });
    const first = await join(env, "forgot", type, 2);
    await env.drain();
    await env.post("/reservation/confirm", { token: first });
    await env.s.redis.del(env.s.keys(type).bought); // Redis lost its data

    const second = await join(env, "forgot", type, 1);
    const behind = await join(env, "someone-else", type, 1);
    await env.drain();
    expect((await statusOf(env, second)).status).toBe("limit_reached");
    expect((await statusOf(env, behind)).status).toBe("reserved");
    expect((await env.post("/reservation/confirm", { token: second })).body.error).toBe("limit_reached");
    expect(await env.stockOf(type)).toBe(47);
    await env.expectInvariants();
  });
});

describe("the limit and a batch that holds an already booked token", () => {
  test("a token's own booking is not counted against it: the grant reports it as booked, not over the limit", async () => {
    const type = await env.ticketType({ capacity: 10, per_user_limit: 2 });
    const token = await join(env, "again", type, 2);
    await env.drain();
    expect((await env.post("/reservation/confirm", { token })).status).toBe(200);
    // the same batch line granted again (a recovery raced the grant's commit)
    const [row] = await env.sql`SELECT queue_place FROM reservations WHERE token = ${token}`;
    const grant = await grantHolds(env.sql, type, 1, `${token}\tagain\t2\t${row!.queue_place}`, 60);
    expect(grant.rows?.map((r) => [r.outcome, r.prior_status])).toEqual([["prior", "confirmed"]]);
    expect(await env.stockOf(type)).toBe(8);
    await env.expectInvariants();
  });
});

describe("a token being served", () => {
  test("confirm and release both answer 409 in_progress with Retry-After, and status says queued", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const token = await join(env, "serving", type);
    const claim = await claimBatch(env.s.redis, env.s.keys(type), 10); // pending: claimed, not yet granted
    expect(claim.kind).toBe("claimed");
    for (const path of ["/reservation/confirm", "/reservation/release"]) {
      const res = await env.post(path, { token });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe("in_progress");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect((await statusOf(env, token)).status).toBe("queued");
    await recoverInflight(env.s, type, 0); // back to the queue, then served as usual
    await env.drain();
    expect((await statusOf(env, token)).status).toBe("reserved");
  });
});

describe("bodies an attacker shapes", () => {
  const raw = (path: string, bytes: Uint8Array | string, contentType = "application/json") => {
    const body = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    return env.app.handle(new Request(`http://localhost${path}`, {
      method: "POST", body: body as BodyInit, headers: { "content-type": contentType, "content-length": String(body.byteLength) },
    }));
  };

  test("a deeply nested body is refused as input before validation (it used to stall the service, then 500)", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const depth = 30_000;
    for (const [path, body] of [
      ["/queue/join", `{"user_id":${"[".repeat(depth)}${"]".repeat(depth)},"ticket_type_id":${type}}`],
      ["/reservation/confirm", `{"token":${"[".repeat(depth)}${"]".repeat(depth)}}`],
    ] as const) {
      for (const contentType of ["application/json", "text/plain"]) {
        const res = await raw(path, body, contentType);
        expect(res.status).toBe(400);
        expect(["invalid_input", "invalid_json"]).toContain(((await res.json()) as any).error);
      }
    }
    // nine levels is too deep, eight is fine (and then refused for its content, as usual)
    const nested = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
    expect(((await (await raw("/queue/join", `{"user_id":${nested(8)},"ticket_type_id":${type}}`)).json()) as any).message)
      .toMatch(/^body: nested more than 8 levels/);
    expect(((await (await raw("/queue/join", `{"user_id":${nested(7)},"ticket_type_id":${type}}`)).json()) as any).message)
      .toMatch(/^user_id: /);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });

  test("invalid UTF-8 is refused, not turned into U+FFFD (which would make different ids one user)", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const prefix = new TextEncoder().encode(`{"user_id":"coll1`);
    const suffix = new TextEncoder().encode(`","ticket_type_id":${type}}`);
    for (const bad of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      const body = new Uint8Array([...prefix, ...bad, ...suffix]);
      for (const contentType of ["application/json", "text/plain"]) {
        const res = await raw("/queue/join", body, contentType);
        expect(res.status).toBe(400);
        expect(((await res.json()) as any).error).toBe("invalid_json");
      }
    }
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
    // U+FFFD written as such is a user id like any other
    expect((await raw("/queue/join", `{"user_id":"coll1\ufffd","ticket_type_id":${type}}`)).status).toBe(200);
  });
});

describe("release after the deadline", () => {
  test("answers 410 hold_expired and leaves the stock to the cleaner, which refills it once", async () => {
    const type = await env.ticketType({ capacity: 5 });
    const token = await join(env, "late", type, 2);
    await env.drain();
    await env.backdate(token); // past its deadline; the cleaner has not run
    const res = await env.post("/reservation/release", { token });
    expect(res.status).toBe(410);
    expect(res.body.error).toBe("hold_expired");
    expect(await env.stockOf(type)).toBe(3);
    expect((await statusOf(env, token)).status).toBe("expired");
    await env.cleaner().expireNow();
    expect(await env.stockOf(type)).toBe(5);
    const [row] = await env.sql`SELECT status FROM reservations WHERE token = ${token}`;
    expect(row!.status).toBe("expired");
    await env.expectInvariants();
  });
});

describe("join refusals that need no queue", () => {
  test("a quantity larger than the type's capacity is refused at join, not queued", async () => {
    const type = await env.ticketType({ capacity: 2, per_user_limit: 4 });
    const res = await env.post("/queue/join", { user_id: "greedy", ticket_type_id: type, quantity: 3 });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe("quantity_over_capacity");
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });

  test("a flood of unknown ticket type ids costs PostgreSQL a few catalog loads, not one each", async () => {
    let queries = 0;
    const counting = new Proxy(env.sql, {
      apply: (target, self, args) => {
        queries++;
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, self, args);
      },
    }) as Sql;
    const catalog = new Catalog(counting);
    await catalog.events();
    const loaded = queries;
    const started = Date.now();
    for (let wave = 0; wave < 5; wave++) {
      const misses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => catalog.ticketType(1_000_000 + wave * 100 + i)),
      );
      expect(misses.every((m) => m === undefined)).toBe(true);
    }
    // one load (two queries) per 100 ms at most, and a new type still shows up
    const windows = Math.ceil((Date.now() - started) / 100) + 1;
    expect((queries - loaded) / 2).toBeLessThanOrEqual(windows);
    expect((queries - loaded) / 2).toBeLessThan(20);
    const fresh = await env.ticketType({ capacity: 1 });
    expect((await catalog.ticketType(fresh))?.id).toBe(fresh);
  });
});
