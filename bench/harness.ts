// Each scenario gets its own PostgreSQL database, its own Redis key prefix and, where it
// measures the service, its own run of the built binary; all removed again afterwards.
import postgres from "postgres";
import { DIST_BINARY } from "../scripts/binary";
import { createSql, migrate, type Sql } from "../src/store/db";
import { checkInvariants } from "../src/store/invariants";
import { withDatabase } from "../src/config/database-url";
import Redis, { Cluster } from "ioredis";
import { activeKey, createRedis, hashTag, keysFor, type RedisClient } from "../src/store/redis";
import { joinArgs, type Join } from "../src/store/scripts";
import { createTokens, type Tokens } from "../src/domain/tokens";

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/ticket_queue";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/**
 * The service measured: this checkout's build, or BENCH_BINARY, another commit's build (old and
 * new measured in turns in one sitting, each with this checkout's scenarios).
 */
export const SERVICE_BINARY = process.env.BENCH_BINARY ?? DIST_BINARY;

const databaseUrl = (name: string) => withDatabase(DATABASE_URL, name);


export type Service = { port: number; pid: number; url: string; stop(): Promise<void> };

export class BenchEnv {
  readonly secret = "bench-secret-".padEnd(48, "x");
  readonly tokens: Tokens = createTokens(this.secret);
  readonly prefix: string;
  private readonly services: Service[] = [];

  private constructor(
    readonly name: string,
    readonly sql: Sql,
    readonly redis: RedisClient,
    /** REDIS_CLUSTER_NODES when on a Redis Cluster (else the Redis at REDIS_URL). */
    readonly clusterNodes?: string,
  ) {
    this.prefix = `bench:${name}:`;
  }

  static async create(scenario: string, clusterNodes?: string): Promise<BenchEnv> {
    const name = `bench_${scenario.replace(/-/g, "_")}_${crypto.randomUUID().slice(0, 6)}`;
    const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE ${admin(name)}`;
    await admin.end();
    const sql = createSql(databaseUrl(name));
    await migrate(sql);
    const redis = createRedis(REDIS_URL, clusterNodes);
    await redis.connect();
    return new BenchEnv(name, sql, redis, clusterNodes);
  }

  keys = (ticketTypeId: number) => keysFor(this.prefix, ticketTypeId);
  get activeKey() {
    return activeKey(this.prefix);
  }

  /** A ticket type with this id on a fresh event (the id may be chosen so the queue can be filled first). */
  async ticketType(id: number, capacity: number, stock = capacity): Promise<void> {
    const [event] = await this.sql`INSERT INTO events (name) VALUES ('Benchmark night') RETURNING id`;
    await this.sql`
      INSERT INTO ticket_types (id, event_id, name, price, capacity, stock, per_user_limit)
      VALUES (${id}, ${event!.id}, 'Floor', 50, ${capacity}, ${stock}, 4)`;
  }

  /**
   * Queues `count` people through the join script itself, a thousand joins a call, ten calls
   * pipelined. The processors learn of the type only when `activate` says so. `keep(place)`
   * chooses whose tokens are returned.
   */
  async queue(ticketTypeId: number, count: number, progress: (done: number) => void, keep: (place: number) => boolean = () => false) {
    const k = this.keys(ticketTypeId);
    const kept = new Map<number, string>();
    const perCall = 1000;
    const chunk = 10_000;
    for (let first = 0; first < count; first += chunk) {
      const pipeline = this.redis.pipeline();
      for (let call = first; call < Math.min(count, first + chunk); call += perCall) {
        const joins: Join[] = [];
        for (let i = call; i < Math.min(count, call + perCall); i++) {
          const { id, token } = this.tokens.issue(ticketTypeId);
          if (keep(i + 1)) kept.set(i + 1, token);
          joins.push({ id, userId: `u${i}`, quantity: 1, token });
        }
        // a pipeline has the scripts as commands too (defineScripts), untyped
        (pipeline as unknown as { tqJoin(...args: unknown[]): void }).tqJoin(...joinArgs(k, 1000, joins));
      }
      await pipeline.exec();
      progress(Math.min(count, first + chunk));
    }
    return kept;
  }

  async activate(ticketTypeId: number): Promise<void> {
    await this.redis.sadd(this.activeKey, String(ticketTypeId));
  }

  /**
   * Starts the built binary on this scenario's database and key prefix. Rate limits off unless
   * `env` turns them on: all the load comes from this one address, whose buckets (sized for one
   * person) would refuse it within a second.
   */
  async start(env: Record<string, string> = {}): Promise<Service> {
    const child = Bun.spawn([SERVICE_BINARY, "serve"], {
      env: {
        PATH: process.env.PATH ?? "",
        PORT: "0",
        DATABASE_URL: databaseUrl(this.name),
        REDIS_URL,
        ...(this.clusterNodes ? { REDIS_CLUSTER_NODES: this.clusterNodes } : {}),
        REDIS_KEY_PREFIX: this.prefix,
        TOKEN_SECRET: this.secret,
        LOG_LEVEL: "info",
        RATE_LIMITS: "off",
        ...env,
      },
      stdout: "pipe",
      stderr: "inherit",
    });
    return this.track(child, await listeningPort(child.stdout));
  }

  /** A started process as a Service, stopped by close(). */
  private track(child: Bun.Subprocess, port: number): Service {
    const service: Service = {
      port,
      pid: child.pid,
      url: `http://127.0.0.1:${port}`,
      async stop() {
        child.kill("SIGTERM");
        await child.exited;
      },
    };
    this.services.push(service);
    return service;
  }

  /** A plain Bun.serve answering what GET /health answers (bench/bare-server.ts), in a process of its own. */
  async startBareServer(): Promise<Service> {
    const child = Bun.spawn([process.execPath, new URL("./bare-server.ts", import.meta.url).pathname], {
      env: { PATH: process.env.PATH ?? "" },
      stdout: "pipe",
      stderr: "inherit",
    });
    return this.track(child, await listeningPort(child.stdout));
  }

  /** I1-I5 in SQL; a broken one fails the scenario, whatever its speed. */
  async expectInvariants(): Promise<string> {
    const findings = await checkInvariants(this.sql);
    if (findings.length > 0) {
      throw new Error(`INVARIANTS BROKEN in ${this.name}:\n${findings.slice(0, 20).map((f) => `  ${f.invariant} ${f.detail}`).join("\n")}`);
    }
    return "I1-I5 hold";
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop()));
    // on a cluster, each master holds the keys of its slots, and one UNLINK takes one slot's
    for (const node of nodesOf(this.redis, "master")) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", `${this.prefix}*`, "COUNT", 10_000);
        const bySlot = Map.groupBy(keys, (key) => hashTag(key));
        await Promise.all([...bySlot.values()].map((group) => this.redis.unlink(...group)));
        cursor = next;
      } while (cursor !== "0");
    }
    this.redis.disconnect();
    await this.sql.end();
    const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
    await admin`DROP DATABASE IF EXISTS ${admin(this.name)} WITH (FORCE)`;
    await admin.end();
  }
}

/** Reads the service's JSON log until it says where it listens; the rest of the log is drained. */
export async function listeningPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the service exited before it listened");
    buffered += new TextDecoder().decode(value);
    const match = /"message":"listening","port":(\d+)/.exec(buffered);
    if (match) {
      void (async () => {
        while (!(await reader.read()).done) {}
      })();
      return Number(match[1]);
    }
  }
}

export type { Sql };

/** The servers behind a client: itself, or a cluster's nodes of that role. */
export const nodesOf = (redis: Redis | Cluster, role: "master" | "all" = "all"): Redis[] =>
  redis instanceof Cluster ? redis.nodes(role) : [redis];
