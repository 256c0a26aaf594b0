// One run of the fault suite: its own Redis and PostgreSQL (so restarting them harms nobody),
// several instances of the binary, a crowd buying while faults are injected, then every
// invariant checked in SQL and every answer the crowd got checked against PostgreSQL. In shop
// mode the instances run with CONFIRM_BY=shop and a shop books the paid holds (chaos/shop.ts).
// A webhook receiver subscribed to every event checks the outbox against PostgreSQL (chaos/webhooks.ts).
// With pgFailovers (--pg-failover), PostgreSQL is a pg_auto_failover formation (scripts/pg-ha.ts)
// whose primary is lost that many times, and those are the only faults: how long the service
// answered 503 around each switch is measured and reported.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalPostgres, LocalRedis, freePort } from "../scripts/local-servers";
import { start as startFormation, type Formation } from "../scripts/pg-ha";
import { LocalRedisCluster } from "../scripts/redis-cluster";
import type { CrashPoint } from "../src/core/crash-points";
import { createSql, type Sql } from "../src/store/db";
import { checkInvariants, overdueHolds } from "../src/store/invariants";
import { Client, newTraffic, seededRandom, type Traffic } from "./client";
import { Instance } from "./cluster";
import { newJournal, runCrowd, type CrowdResult } from "./crowd";
import { injectFaults, type Failover, type Fault, type FaultRecord } from "./faults";
import { Shop, SHOP_API_KEYS, shopChecks, type ShopSummary } from "./shop";
import { CHAOS_RETRY_SCHEDULE, ChaosReceiver } from "./webhooks";

/** Who books a hold: the buyer (POST /reservation/confirm) or, after payment, the shop. */
export type Mode = "buyer" | "shop";
export const MODES: readonly Mode[] = ["buyer", "shop"];

export type ChaosOptions = {
  /** The built binary, or its build still under way (awaited once the servers are up). */
  binary: string | Promise<string>;
  instances: number;
  buyers: number;
  seats: number;
  /** Buyers arrive evenly over this long; the faults are injected meanwhile. */
  arrivalSeconds: number;
  kills: number;
  crashPoints: readonly CrashPoint[];
  postgresRestart: boolean;
  holdSeconds: number;
  gapMs: [number, number];
  seed: number;
  /** On a Redis Cluster of its own: Redis faults are then a master's death, a replica's, a slot move. */
  cluster: boolean;
  /**
   * On a pg_auto_failover formation of its own (a monitor, a primary, a synchronous standby):
   * its primary lost this many times (the lost node rejoining as the standby after each), and no
   * other fault. 0: one PostgreSQL of its own, and every other fault.
   */
  pgFailovers: number;
  mode: Mode;
  say: (line: string) => void;
};

/** The fault suite's own cluster, on ports apart from the tests' (7101-7106). */
const CHAOS_CLUSTER_BASE_PORT = 7121;

/** The instances' JOIN_JWT_SECRET, which the buyers' JWTs are signed with. */
const JOIN_JWT_SECRET = "chaos-join-secret-".padEnd(48, "j");

/** The crowd's ticket type's price, which the shop charges; the probes' type costs 1. */
const FLOOR_PRICE = 50;

/** Holds still held this long after their deadline break I6 ("within a second or two"). */
const I6_GRACE_SECONDS = 2;

/** Once a promoted standby takes writes, the service must be whole again within this (issue 24). */
const BACK_AFTER_SWITCH_MS = 10_000;

/**
 * A primary's loss as the crowd saw it: the 503s of the switch (from the loss until the lost node
 * is started again, or the next loss, or the end) and those while the lost node rejoined (until
 * the next loss or the end: its commits wait for the standby catching up).
 */
export type FailoverReport = Failover & {
  unavailable: number;
  /** From the loss to the first and the last 503 of the switch (null: none). */
  firstUnavailableMs: number | null;
  lastUnavailableMs: number | null;
  /** The route and the body of the switch's last 503. */
  lastUnavailable: string | null;
  /** 503s while the lost node rejoined, and the route and body of the last. */
  unavailableWhileRejoining: number;
  lastUnavailableWhileRejoining: string | null;
};

export type Check = { name: string; ok: boolean; detail: string };

export type ChaosReport = {
  seed: number;
  options: Omit<ChaosOptions, "binary" | "say">;
  seconds: number;
  faults: FaultRecord[];
  /** --pg-failover: each primary lost, and the 503s around it. */
  failovers: FailoverReport[];
  crowd: CrowdResult;
  /** Shop mode: what the shop did and was told. */
  shop: ShopSummary | null;
  traffic: Omit<Traffic, "serverErrors" | "unavailableAt"> & { serverErrors: number };
  /** Seats (capacity, stock, held, booked) and holds (granted, expired, released) per ticket type. */
  tables: { ticket_type: string; capacity: number; stock: number; held: number; booked: number; holds: number; expired: number; released: number }[];
  shutdown_ms: number[];
  checks: Check[];
  passed: boolean;
  logs: string;
};

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const random = seededRandom(o.seed);
  const logs = mkdtempSync(join(tmpdir(), "ticket-queue-chaos-"));
  const cluster = o.cluster ? new LocalRedisCluster(CHAOS_CLUSTER_BASE_PORT) : null;
  const redis = cluster ? null : await LocalRedis.start();
  let postgres: LocalPostgres | null = null;
  let formation: Formation | null = null;
  let sql: Sql | null = null;
  const instances: Instance[] = [];
  const receiver = new ChaosReceiver(random);
  let passed = false;
  try {
    await cluster?.stop(); // a cluster left by an earlier run: started afresh
    await cluster?.start();
    if (o.pgFailovers > 0) formation = await startFormation();
    else postgres = await LocalPostgres.start();
    const databaseUrl = formation?.uri ?? postgres!.url;
    o.say(`own Redis ${redis?.url ?? `cluster ${cluster!.nodes}`}, own PostgreSQL ${databaseUrl}, logs in ${logs}`);
    const env = {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: databaseUrl,
      ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodes } : { REDIS_URL: redis!.url }),
      TOKEN_SECRET: "chaos-secret-".padEnd(48, "x"),
      // the mode we recommend: joins verified, so a retried join gets its own token back
      JOIN_AUTH: "jwt",
      JOIN_JWT_SECRET: JOIN_JWT_SECRET,
      RESERVATION_TTL_SECONDS: String(o.holdSeconds),
      LOG_LEVEL: "info",
      STARTUP_TIMEOUT_SECONDS: "60",
      // the crowd is thousands of buyers from this one machine's address
      RATE_LIMITS: "off",
      CONFIRM_BY: o.mode,
      ...(o.mode === "shop" ? { SHOP_API_KEYS: SHOP_API_KEYS.join(",") } : {}),
      WEBHOOK_RETRY_SCHEDULE: CHAOS_RETRY_SCHEDULE,
    };
    const binary = await o.binary;
    const migrated = Bun.spawn([binary, "migrate"], { env, stdout: "ignore", stderr: "pipe" });
    if ((await migrated.exited) !== 0) throw new Error(`migrate failed: ${await new Response(migrated.stderr).text()}`);
    sql = createSql(databaseUrl, { max: 2 });
    const [event] = await sql`INSERT INTO events (name) VALUES ('Chaos night') RETURNING id`;
    const [crowdType] = await sql`
      INSERT INTO ticket_types (event_id, name, price, capacity, stock) VALUES (${event!.id}, 'Floor', ${FLOOR_PRICE}, ${o.seats}, ${o.seats})
      RETURNING id`;
    const [probeType] = await sql`
      INSERT INTO ticket_types (event_id, name, price, capacity, stock) VALUES (${event!.id}, 'Probe seats', 1, 100000, 100000)
      RETURNING id`;
    await receiver.start(sql); // subscribed to every event before the first hold

    for (let i = 0; i < o.instances; i++) {
      instances.push(new Instance(i, freePort(), binary, env, join(logs, `instance-${i}.log`)));
    }
    await Promise.all(instances.map((i) => i.start()));
    o.say(`${o.mode} mode, ${o.instances} instances up; ${o.buyers} buyers arrive over ${o.arrivalSeconds} s for ${o.seats} seats`);

    const traffic = newTraffic();
    const journal = newJournal();
    const client = new Client(instances.map((i) => i.url), traffic, random, JOIN_JWT_SECRET);
    const shop = o.mode === "shop" ? new Shop(client, journal, random) : null;
    const giveUp = new AbortController();
    const crowd = runCrowd(client, journal, {
      buyers: o.buyers, ticketTypeId: crowdType!.id, arrivalMs: o.arrivalSeconds * 1000, random, giveUp: giveUp.signal,
      shop, unitPrice: FLOOR_PRICE,
    });
    const plan = faultPlan(o, random);
    const failovers: Failover[] = [];
    const faults = await injectFaults(
      {
        instances, redis, cluster, receiver, crowdTypeId: crowdType!.id, postgres, formation, failovers, client, journal, shop,
        probeTypeId: probeType!.id, random, started, say: o.say,
      },
      plan, o.gapMs,
    );
    o.say("faults done; waiting for the crowd to finish");
    const crowdDeadline = setTimeout(() => giveUp.abort(), Math.max(60_000, o.arrivalSeconds * 1000 - (Date.now() - started) + 60_000));
    const crowdResult = await crowd;
    clearTimeout(crowdDeadline);
    o.say(`the crowd finished at ${((Date.now() - started) / 1000).toFixed(1)}s; checking`);

    // Every deadline passes; the cleaners then have I6's grace to end each hold.
    const [latest] = await sql<{ ms: number | null }[]>`
      SELECT (extract(epoch FROM max(expires_at) - now()) * 1000)::float8 AS ms FROM reservations WHERE status = 'held'`;
    await Bun.sleep(Math.max(0, latest?.ms ?? 0) + I6_GRACE_SECONDS * 1000 + 500);

    const checks = await finalChecks(sql, o, journal, traffic, crowdResult, faults);
    const failoverReports = unavailableAround(failovers, traffic.unavailableAt);
    if (formation) checks.push(...failoverChecks(o, failoverReports, traffic));
    if (shop) checks.push(...(await shopChecks(sql, shop.ledger)));
    checks.push(...(await receiver.checks(sql)));
    const drift = Bun.spawn([binary, "check"], { env, stdout: "pipe", stderr: "pipe" });
    const driftCode = await drift.exited;
    checks.push({ name: "ticket-queue check", ok: driftCode === 0, detail: `exit ${driftCode}: ${(await new Response(drift.stdout).text()).trim().split("\n").at(-1)}` });
    const tables = await tableSummary(sql);
    const driftLogged = await linesMentioning(logs, "STOCK DRIFT");
    checks.push({ name: "no drift logged", ok: driftLogged.length === 0, detail: driftLogged[0] ?? "no cleaner logged STOCK DRIFT" });

    const stops = await Promise.all(instances.map((i) => i.terminate()));
    const slowest = Math.max(...stops.map((s) => s.ms));
    checks.push({
      name: "SIGTERM",
      ok: stops.every((s) => s.code === 0 && s.ms <= 10_000),
      detail: `every instance exited ${stops.map((s) => s.code).join("/")} within ${slowest} ms (limit 10 s)`,
    });

    const { binary: _binary, say: _say, ...options } = o;
    passed = checks.every((c) => c.ok);
    return {
      seed: o.seed,
      options,
      seconds: (Date.now() - started) / 1000,
      faults,
      failovers: failoverReports,
      crowd: crowdResult,
      shop: shop?.summary() ?? null,
      traffic: { ...withoutTimes(traffic), serverErrors: traffic.serverErrors.length },
      tables,
      shutdown_ms: stops.map((s) => s.ms),
      checks,
      passed,
      logs: passed ? "(removed)" : logs,
    };
  } finally {
    await Promise.all(instances.map((i) => i.kill9()));
    receiver.stop();
    if (passed) rmSync(logs, { recursive: true, force: true }); // kept for reading when a run fails
    await sql?.end({ timeout: 1 });
    await postgres?.stop();
    await formation?.stop();
    await redis?.stop();
    await cluster?.stop();
  }
}

/** The faults in a random order: kills, the crash points, and Redis (one server's or a cluster's) and PostgreSQL ones. */
function faultPlan(o: ChaosOptions, random: () => number): Fault[] {
  if (o.pgFailovers > 0) return Array.from({ length: o.pgFailovers }, () => ({ kind: "postgres primary lost" as const }));
  const faults: Fault[] = [
    ...Array.from({ length: o.kills }, () => ({ kind: "kill -9" as const })),
    { kind: "SIGTERM" },
    { kind: "webhook receiver down" },
    ...o.crashPoints.map((point) => ({ kind: "crash point" as const, point })),
    ...(o.cluster
      ? [{ kind: "redis master kill -9" as const }, { kind: "redis replica kill -9" as const }, { kind: "redis slot move" as const }]
      : [{ kind: "redis FLUSHDB" as const }, { kind: "redis restart" as const }]),
    ...(o.postgresRestart ? [{ kind: "postgres restart" as const }] : []),
  ];
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [faults[i], faults[j]] = [faults[j]!, faults[i]!];
  }
  return faults;
}

async function finalChecks(
  sql: Sql, o: ChaosOptions, journal: ReturnType<typeof newJournal>, traffic: Traffic, crowd: CrowdResult, faults: FaultRecord[],
): Promise<Check[]> {
  const checks: Check[] = [];
  const findings = await checkInvariants(sql);
  for (const invariant of ["I1", "I2", "I3", "I4", "I5"] as const) {
    const found = findings.filter((f) => f.invariant === invariant);
    checks.push({ name: invariant, ok: found.length === 0, detail: found.length === 0 ? "holds" : found.slice(0, 3).map((f) => f.detail).join("; ") });
  }
  const overdue = await overdueHolds(sql, I6_GRACE_SECONDS);
  checks.push({ name: "I6", ok: overdue.length === 0, detail: overdue.length === 0 ? "every hold ended" : overdue.slice(0, 3).map((f) => f.detail).join("; ") });

  const failed = faults.filter((f) => !f.ok);
  checks.push({ name: "faults", ok: failed.length === 0, detail: failed.length === 0 ? `${faults.length} injected` : failed.map((f) => `${f.fault}: ${f.detail}`).join("; ") });

  const tokens = [...journal.seenReserved];
  const [{ missing }] = await sql<{ missing: number }[]>`
    SELECT count(*)::int AS missing FROM unnest(${tokens}::text[]) AS t(token)
    WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.token = t.token)`;
  checks.push({ name: "holds answered exist", ok: missing === 0, detail: `${tokens.length} tokens answered "reserved"; ${missing} without a hold in PostgreSQL` });

  const booked = [...journal.bookings];
  const [{ wrong }] = await sql<{ wrong: number }[]>`
    SELECT count(*)::int AS wrong FROM unnest(${booked.map(([t]) => t)}::text[], ${booked.map(([, id]) => id)}::bigint[]) AS a(token, id)
    WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.token = a.token AND b.id = a.id)`;
  checks.push({ name: "bookings answered exist", ok: wrong === 0, detail: `${booked.length} bookings answered; ${wrong} not in PostgreSQL as answered` });

  checks.push({
    name: "answers",
    ok: journal.wrongAnswers.length === 0 && traffic.serverErrors.length === 0,
    detail: journal.wrongAnswers.length + traffic.serverErrors.length === 0
      ? "no wrong answer, no 5xx but 503"
      : [...journal.wrongAnswers.slice(0, 3), ...traffic.serverErrors.slice(0, 3).map((e) => `${e.status} on ${e.path}: ${e.body}`)].join("; "),
  });
  checks.push({ name: "every buyer finished", ok: crowd.outcomes.stuck === 0, detail: `${crowd.outcomes.stuck} of ${o.buyers} stuck` });
  return checks;
}

/** The 503s the crowd got around each primary's loss (see FailoverReport). */
function unavailableAround(failovers: Failover[], unavailable: Traffic["unavailableAt"]): FailoverReport[] {
  const sorted = [...unavailable].sort((a, b) => a.at - b.at);
  const between = (from: number, to: number) => sorted.filter(({ at }) => at >= from && at < to);
  const said = (u: (typeof sorted)[number] | undefined) => (u ? `${u.path}: ${u.body}` : null);
  return failovers.map((f, i) => {
    const next = failovers[i + 1]?.lostAt ?? Infinity;
    const switching = between(f.lostAt, f.restartedAt ?? next);
    const rejoining = f.restartedAt === null ? [] : between(f.restartedAt, next);
    return {
      ...f,
      unavailable: switching.length,
      firstUnavailableMs: switching.length ? switching[0]!.at - f.lostAt : null,
      lastUnavailableMs: switching.length ? switching.at(-1)!.at - f.lostAt : null,
      lastUnavailable: said(switching.at(-1)),
      unavailableWhileRejoining: rejoining.length,
      lastUnavailableWhileRejoining: said(rejoining.at(-1)),
    };
  });
}

/** --pg-failover: every loss switched, the service whole again soon after, its 503s saying when to retry. */
function failoverChecks(o: ChaosOptions, failovers: FailoverReport[], traffic: Traffic): Check[] {
  const late = failovers.filter((f) => f.lastUnavailableMs !== null && f.lostAt + f.lastUnavailableMs - f.writableAt > BACK_AFTER_SWITCH_MS);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    { name: "primary switched", ok: failovers.length === o.pgFailovers, detail: `${failovers.length} of ${o.pgFailovers} losses ended with a promoted standby` },
    {
      name: "back after a switch",
      ok: late.length === 0,
      detail: late.length === 0
        ? `no 503 later than ${s(BACK_AFTER_SWITCH_MS)} after the new primary took writes (until the lost node is started again)`
        : late.map((f) => `503 until ${s(f.lostAt + f.lastUnavailableMs! - f.writableAt)} after ${f.promoted} took writes (${f.lastUnavailable})`).join("; "),
    },
    {
      name: "503 with Retry-After",
      ok: traffic.unavailableWithoutRetryAfter === 0,
      detail: `${traffic.unavailableWithoutRetryAfter} of ${traffic.unavailable} 503s without Retry-After`,
    },
  ];
}

function withoutTimes({ unavailableAt: _times, ...traffic }: Traffic) {
  return traffic;
}

async function linesMentioning(folder: string, text: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of readdirSync(folder)) {
    for (const line of (await Bun.file(join(folder, name)).text()).split("\n")) if (line.includes(text)) found.push(line);
  }
  return found;
}

async function tableSummary(sql: Sql): Promise<ChaosReport["tables"]> {
  return sql`
    SELECT t.name AS ticket_type, t.capacity, t.stock,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'held'), 0)::int AS held,
           coalesce(sum(r.quantity) FILTER (WHERE r.status = 'confirmed'), 0)::int AS booked,
           count(r.token) FILTER (WHERE r.status = 'expired')::int AS expired,
           count(r.token) FILTER (WHERE r.status = 'released')::int AS released,
           count(r.token)::int AS holds
    FROM ticket_types t LEFT JOIN reservations r ON r.ticket_type_id = t.id
    GROUP BY t.id ORDER BY t.id`;
}
