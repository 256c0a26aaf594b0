// The faults of a run, injected one after another at random moments while the crowd buys:
// kill -9 of an instance, a graceful stop (SIGTERM) under load, Redis losing its data or
// restarting (on a Redis Cluster: a master killed, a replica killed, a busy slot moved),
// PostgreSQL restarting, the webhook receiver down for a few seconds, and the crash points of
// src/core/crash-points.ts, each followed by a restart. On a pg_auto_failover formation
// (--pg-failover): the primary node lost whole, its standby promoted, the lost node started again.
import Redis from "ioredis";
import type { LocalPostgres, LocalRedis } from "../scripts/local-servers";
import type { Formation } from "../scripts/pg-ha";
import type { LocalRedisCluster } from "../scripts/redis-cluster";
import { keysFor } from "../src/store/redis";
import type { CrashPoint } from "../src/core/crash-points";
import { jitter, type Client } from "./client";
import type { Instance } from "./cluster";
import type { Journal } from "./crowd";
import type { Shop } from "./shop";
import type { ChaosReceiver } from "./webhooks";

export type Fault =
  | { kind: "kill -9" }
  | { kind: "SIGTERM" }
  | { kind: "redis FLUSHDB" }
  | { kind: "redis restart" }
  | { kind: "redis master kill -9" }
  | { kind: "redis replica kill -9" }
  | { kind: "redis slot move" }
  | { kind: "postgres restart" }
  | { kind: "postgres primary lost" }
  | { kind: "webhook receiver down" }
  | { kind: "crash point"; point: CrashPoint };

export type Failover = {
  lost: string;
  promoted: string;
  lostAt: number;
  writableAt: number;
  /** When the lost node was started again (null: left down), and how long it took to be the synchronous standby. */
  restartedAt: number | null;
  rejoinedAfterMs: number | null;
};

export type FaultRecord = { at_s: number; fault: string; detail: string; took_ms: number; ok: boolean };

export type FaultContext = {
  instances: Instance[];
  /** One Redis, or (a cluster run) null and `cluster`. */
  redis: LocalRedis | null;
  cluster: LocalRedisCluster | null;
  /** The endpoint subscribed to every event: a fault takes it down for a while. */
  receiver: ChaosReceiver;
  /** The crowd's ticket type: the cluster faults aim at its slot. */
  crowdTypeId: number;
  /** One PostgreSQL, or (a --pg-failover run) null and `formation`. */
  postgres: LocalPostgres | null;
  formation: Formation | null;
  /** Each primary lost: when, and when its standby took writes (ms since the epoch). */
  failovers: Failover[];
  client: Client;
  journal: Journal;
  /** Shop mode: the probes' confirms go through the shop. */
  shop: Shop | null;
  probeTypeId: number;
  random: () => number;
  started: number;
  say: (line: string) => void;
};

const describe = (f: Fault) => (f.kind === "crash point" ? `crash point ${f.point}` : f.kind);
/** How long an armed instance may take to reach its crash point before the run fails. */
const CRASH_POINT_TIMEOUT_MS = 45_000;

export async function injectFaults(ctx: FaultContext, faults: Fault[], gapMs: [number, number]): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  for (const fault of faults) {
    await Bun.sleep(jitter(ctx.random, ...gapMs));
    const at = Date.now();
    const { detail, ok } = await inject(ctx, fault);
    const record = { at_s: (at - ctx.started) / 1000, fault: describe(fault), detail, took_ms: Date.now() - at, ok };
    records.push(record);
    ctx.say(`${record.at_s.toFixed(1)}s ${record.fault}: ${detail}${ok ? "" : " (FAILED)"}`);
  }
  return records;
}

async function inject(ctx: FaultContext, fault: Fault): Promise<{ detail: string; ok: boolean }> {
  switch (fault.kind) {
    case "kill -9": {
      const victim = anyAlive(ctx);
      const pid = victim.pid;
      await victim.kill9();
      await Bun.sleep(jitter(ctx.random, 200, 1500));
      await victim.start();
      return { detail: `instance ${victim.index} (pid ${pid}) killed and restarted`, ok: true };
    }
    case "webhook receiver down": {
      ctx.receiver.stop();
      const downMs = jitter(ctx.random, 3000, 8000);
      await Bun.sleep(downMs);
      await ctx.receiver.start();
      return { detail: `the webhook receiver refused connections for ${(downMs / 1000).toFixed(1)} s`, ok: true };
    }
    case "SIGTERM": {
      const victim = anyAlive(ctx);
      const { ms, code } = await victim.terminate();
      await victim.start();
      const ok = code === 0 && ms <= 10_000;
      return { detail: `instance ${victim.index} stopped in ${ms} ms with exit code ${code} under load, restarted`, ok };
    }
    case "redis master kill -9":
    case "redis replica kill -9":
    case "redis slot move":
      return clusterFault(ctx, fault.kind);
    case "redis FLUSHDB": {
      const redis = new Redis(ctx.redis!.url, { maxRetriesPerRequest: 3 });
      await redis.flushdb();
      redis.disconnect();
      return { detail: "every key gone: queues, places, batches in flight, leases", ok: true };
    }
    case "redis restart":
      await ctx.redis!.restart(1000);
      return { detail: "killed, down 1 s, started empty", ok: true };
    case "postgres restart":
      await ctx.postgres!.restart();
      return { detail: "immediate stop (every connection dropped), started again", ok: true };
    case "postgres primary lost":
      return primaryLost(ctx);
    case "crash point":
      return crashAt(ctx, fault.point);
  }
}

/**
 * A cluster's faults, aimed at the slot of the crowd's ticket type: its master killed (its
 * replica takes over; the dead node comes back as a replica), a replica killed and restarted,
 * or the slot moved to another master while buyers buy.
 */
async function clusterFault(ctx: FaultContext, kind: "redis master kill -9" | "redis replica kill -9" | "redis slot move") {
  const cluster = ctx.cluster!;
  const slot = await cluster.slotOf(keysFor("", ctx.crowdTypeId).queue); // chaos runs without a key prefix
  const started = Date.now();
  const master = await cluster.ownerOf(slot);
  if (master === null) return { detail: `slot ${slot} has no master`, ok: false };
  if (kind === "redis slot move") {
    const to = (await cluster.masters()).map((m) => m.port).find((p) => p !== master)!;
    const keys = await cluster.moveSlot(slot, to);
    return { detail: `slot ${slot} (${keys} keys) moved from ${master} to ${to} in ${Date.now() - started} ms`, ok: true };
  }
  const victim = kind === "redis master kill -9" ? master : (await cluster.masters()).find((m) => m.port === master)?.replica;
  if (!victim) return { detail: `the master of slot ${slot} has no replica to kill`, ok: false };
  await cluster.kill9(victim);
  let took = "";
  if (kind === "redis master kill -9") {
    while ([master, null].includes(await cluster.ownerOf(slot))) {
      if (Date.now() - started > 30_000) return { detail: `no replica took over slot ${slot} within 30 s`, ok: false };
      await Bun.sleep(100);
    }
    took = `; a replica took over in ${Date.now() - started} ms`;
  } else {
    await Bun.sleep(jitter(ctx.random, 500, 2000));
  }
  await cluster.launch(victim);
  await cluster.waitHealthy(60_000);
  return { detail: `node ${victim} (${kind === "redis master kill -9" ? "master" : "replica"} of slot ${slot}) killed${took}; back as a replica`, ok: true };
}

/**
 * The formation's primary lost as a machine is lost (its keeper and its postmaster kill -9
 * together) until the monitor has promoted the standby and it takes writes. A node lost before
 * is first started again and waited for until it is the synchronous standby: each loss after the
 * first is of a primary whose standby was once the lost primary.
 */
async function primaryLost(ctx: FaultContext): Promise<{ detail: string; ok: boolean }> {
  const formation = ctx.formation!;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  let before = "";
  const previous = ctx.failovers.at(-1);
  if (previous) {
    const down = formation.nodes.find((n) => n.name === previous.lost)!;
    previous.restartedAt = Date.now();
    await formation.restartNode(down);
    previous.rejoinedAfterMs = Date.now() - previous.restartedAt;
    before = `${down.name} started again, the synchronous standby ${s(previous.rejoinedAfterMs)} later; `;
    await Bun.sleep(jitter(ctx.random, 1000, 2000)); // the crowd's commits wait for it a while
  }
  const lost = await formation.primary();
  if (!lost) return { detail: `${before}the formation had no primary to lose`, ok: false };
  const lostAt = Date.now();
  formation.loseNode(lost);
  try {
    const promoted = await formation.waitForPrimary({ not: lost, timeoutMs: 60_000 });
    const writableAt = Date.now();
    ctx.failovers.push({ lost: lost.name, promoted: promoted.name, lostAt, writableAt, restartedAt: null, rejoinedAfterMs: null });
    return { detail: `${before}${lost.name} (primary) lost: keeper and postmaster kill -9; ${promoted.name} took writes after ${s(writableAt - lostAt)}`, ok: true };
  } catch (err) {
    return { detail: `${before}${lost.name} (primary) lost; ${(err as Error).message}`, ok: false };
  }
}

/**
 * Every instance is restarted set to die at `point`; probe buyers make the traffic that gets
 * there; the first to die, and then all, are restarted normally; what the probes were (or were
 * not) told is checked.
 */
async function crashAt(ctx: FaultContext, point: CrashPoint): Promise<{ detail: string; ok: boolean }> {
  for (const instance of ctx.instances) {
    if (instance.armedWith === point && !instance.alive) continue; // got there already
    await instance.restart(point);
  }
  const died = Promise.race(ctx.instances.map((i) => i.diedOnItsOwn().then(() => i)));
  const stop = new AbortController();
  const unanswered: string[] = [];
  const probing = probe(ctx, point, stop.signal, unanswered);
  const victim = await Promise.race([died, Bun.sleep(CRASH_POINT_TIMEOUT_MS).then(() => null)]);
  stop.abort();
  await probing;
  for (const instance of ctx.instances) {
    if (instance.alive) await instance.restart();
    else await instance.start();
  }
  if (!victim) return { detail: `no instance reached it within ${CRASH_POINT_TIMEOUT_MS / 1000} s`, ok: false };

  const wrong = await checkUnanswered(ctx, point, unanswered);
  ctx.journal.wrongAnswers.push(...wrong);
  const checked = unanswered.length > 0 ? `; ${unanswered.length} unanswered request(s) checked afterwards` : "";
  return { detail: `instance ${victim.index} died there and was restarted${checked}`, ok: wrong.length === 0 };
}

function anyAlive(ctx: FaultContext): Instance {
  const alive = ctx.instances.filter((i) => i.alive);
  return alive[Math.floor(ctx.random() * alive.length)]!;
}

let probes = 0;

/** Traffic that reaches `point`, sent until `signal` fires. Tokens whose request got no answer go to `unanswered`. */
async function probe(ctx: FaultContext, point: CrashPoint, signal: AbortSignal, unanswered: string[]): Promise<void> {
  while (!signal.aborted) {
    const user = `probe-${++probes}`;
    if (point === "join:queued" || point.startsWith("process:")) {
      await ctx.client.join(user, ctx.probeTypeId, 1);
      await Bun.sleep(100);
      continue;
    }
    const token = await holdFor(ctx, user, signal);
    if (!token) continue;
    if (point === "expire:expired") continue; // left to lapse
    const reply = point !== "confirm:booked" ? await ctx.client.release(token)
      : ctx.shop ? await ctx.shop.confirmOnce(token, null) : await ctx.client.confirm(token);
    if (reply.status === 0) unanswered.push(token);
    await Bun.sleep(100);
  }
}

/** Joins and waits for a hold; the token, or null if none came. */
async function holdFor(ctx: FaultContext, user: string, signal: AbortSignal): Promise<string | null> {
  const joined = await ctx.client.join(user, ctx.probeTypeId, 1);
  if (joined.status !== 200) return null;
  const token: string = joined.body.queue_token;
  const until = Date.now() + 10_000;
  while (!signal.aborted && Date.now() < until) {
    const status = await ctx.client.status(token);
    if (status.body?.status === "reserved") {
      ctx.journal.seenReserved.add(token);
      return token;
    }
    if (status.status === 200 && status.body?.status !== "queued") return null;
    await Bun.sleep(50);
  }
  return null;
}

/** A confirm or release whose answer was lost in the crash must have taken effect, once. */
async function checkUnanswered(ctx: FaultContext, point: CrashPoint, tokens: string[]): Promise<string[]> {
  if (ctx.shop && point === "confirm:booked") return retriedByShop(ctx, ctx.shop, tokens);
  const wrong: string[] = [];
  for (const token of tokens) {
    const expected = point === "confirm:booked" ? "confirmed" : "released";
    const status = await untilAnswered(() => ctx.client.status(token));
    // the request may have died before reaching the crash point, on an instance killed for it
    if (status.body?.status === "reserved" || status.body?.status === "expired") continue;
    if (status.body?.status !== expected) {
      wrong.push(`after a crash at ${point}, status said ${JSON.stringify(status.body)}`);
      continue;
    }
    const again = await untilAnswered(() =>
      expected === "confirmed" ? ctx.client.confirm(token) : ctx.client.release(token),
    );
    const same = expected === "confirmed" ? again.body?.booking_id === status.body.booking_id : again.status === 200;
    if (again.status !== 200 || !same) {
      wrong.push(`after a crash at ${point}, repeating it answered ${again.status} ${JSON.stringify(again.body)}`);
    }
    if (expected === "confirmed" && again.status === 200) ctx.journal.bookings.set(token, again.body.booking_id);
  }
  return wrong;
}

/**
 * Shop mode: the shop asks again with the key of each confirm whose answer was lost. Booked by
 * the lost request (status says confirmed): the same booking, replayed. Expired: 410. Still
 * reserved as far as status knows (Redis not told): booked now or before, or lapsed.
 */
async function retriedByShop(ctx: FaultContext, shop: Shop, tokens: string[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const token of tokens) {
    const status = await untilAnswered(() => ctx.client.status(token));
    const said = status.body?.status;
    const again = await untilAnswered(() => shop.confirmOnce(token, null));
    const replayed = again.headers.get("idempotent-replayed") === "true";
    const expired = again.status === 410 && again.body?.error === "hold_expired";
    const ok = said === "confirmed" ? again.status === 201 && replayed && again.body.booking_id === status.body.booking_id
      : said === "expired" ? expired
      : said === "reserved" && (again.status === 201 || expired);
    if (!ok) {
      wrong.push(`after a crash at confirm:booked, status said ${said}; the shop's retry answered ${again.status}${replayed ? " (replayed)" : ""} ${JSON.stringify(again.body)}`);
    }
  }
  return wrong;
}

async function untilAnswered(call: () => ReturnType<Client["status"]>) {
  for (;;) {
    const reply = await call();
    if (reply.status !== 0 && reply.status !== 503) return reply;
    await Bun.sleep(200);
  }
}
