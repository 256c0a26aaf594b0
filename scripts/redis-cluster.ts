// A throwaway Redis Cluster from the installed redis-server: 3 masters with one replica each
// on loopback ports BASE..BASE+5 (default 7101-7106), no persistence, a short node timeout so
// a replica takes over within a few seconds of its master's death. For the tests
// (TEST_REDIS=cluster, via scripts/with-services.ts), the fault suite and the benchmarks.
//   bun scripts/redis-cluster.ts start|stop|status   (REDIS_CLUSTER_BASE_PORT=7101)
// start is idempotent: a cluster already answering on those ports is reused. The servers are
// daemons (they outlive this script) kept in one folder under the temp dir; stop kills them
// by the pids in their pid files and removes the folder.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";

const NODES = 6;
/** Milliseconds a master may be silent before it is failed over: small, for quick tests. */
const NODE_TIMEOUT_MS = 1000;

export class LocalRedisCluster {
  readonly ports: number[];
  readonly dir: string;

  constructor(readonly basePort = Number(process.env.REDIS_CLUSTER_BASE_PORT ?? 7101)) {
    this.ports = Array.from({ length: NODES }, (_, i) => basePort + i);
    this.dir = join(tmpdir(), `ticket-queue-redis-cluster-${basePort}`);
  }

  /** REDIS_CLUSTER_NODES for the service. */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(",");
  }

  /** Starts the cluster unless it already answers whole (then false); resolves once every slot is served. */
  async start(): Promise<boolean> {
    if (await this.healthy()) return false;
    await this.stop();
    if (!Bun.which("redis-server") || !Bun.which("redis-cli")) {
      throw new Error("a Redis Cluster needs redis-server and redis-cli: sudo apt-get install -y redis-server");
    }
    mkdirSync(this.dir, { recursive: true });
    for (const port of this.ports) await this.launch(port);
    const create = Bun.spawn(
      ["redis-cli", "--cluster", "create", ...this.ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"],
      { stdout: "pipe", stderr: "pipe" },
    );
    if ((await create.exited) !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stdout).text()}${await new Response(create.stderr).text()}`);
    }
    await this.waitHealthy();
    return true;
  }

  /** Kills every node (by its pid file) and removes the folder. */
  async stop(): Promise<void> {
    for (const port of this.ports) {
      const pid = this.pidOf(port);
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    await Bun.sleep(100);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The node's redis-server process id, from its pid file (null: not started here). */
  pidOf(port: number): number | null {
    const file = join(this.dir, `${port}.pid`);
    return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) || null : null;
  }

  /** Whether this cluster's folder is here: its nodes were started by this script (and may be killed by it). */
  get ours(): boolean {
    return existsSync(this.dir);
  }

  /** kill -9 of one of our nodes, found by the process id it reports itself; resolves once it is gone. */
  async kill9(port: number): Promise<void> {
    if (!this.ours) throw new Error(`the cluster on ${this.nodes} was not started by scripts/redis-cluster.ts`);
    const pid = Number(/process_id:(\d+)/.exec((await info(port, "server")) ?? "")?.[1]) || this.pidOf(port);
    if (!pid) throw new Error(`no redis-server answers on port ${port}`);
    process.kill(pid, "SIGKILL");
    while ((await command(port, ["PING"])) !== null) await Bun.sleep(20);
  }

  /** Starts one node (again, after a kill): it rejoins from its nodes file, empty, as it was configured. */
  async launch(port: number): Promise<void> {
    // A node starts empty, whatever it or a replica saved before: no persistence, as the
    // service expects of a Redis (PostgreSQL is the truth).
    const dump = `dump-${port}.rdb`;
    rmSync(join(this.dir, dump), { force: true });
    const run = Bun.spawn([
      "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--daemonize", "yes",
      "--dir", this.dir, "--pidfile", join(this.dir, `${port}.pid`), "--logfile", join(this.dir, `${port}.log`),
      "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`,
      "--cluster-node-timeout", String(NODE_TIMEOUT_MS),
      // a replica may always take over, however long it was cut off (no persistence to prefer)
      "--cluster-replica-validity-factor", "0",
      // slots of a living master keep serving while another master's slots fail over
      "--cluster-require-full-coverage", "no",
      "--save", "", "--appendonly", "no", "--dbfilename", dump,
      // a replica loads its master's data straight from the socket, never through a file
      "--repl-diskless-load", "swapdb",
    ], { stdout: "ignore", stderr: "inherit" });
    if ((await run.exited) !== 0) throw new Error(`redis-server on port ${port} did not start`);
    for (let i = 0; i < 100 && !(await info(port, "server")); i++) await Bun.sleep(50);
  }

  /** The ports of the masters now, and each one's replica port (null when it has none). */
  async masters(): Promise<{ port: number; replica: number | null }[]> {
    for (const port of this.ports) {
      const text = await command(port, ["CLUSTER", "NODES"]);
      if (typeof text !== "string") continue;
      const rows = text.trim().split("\n").map((line) => line.split(" "));
      const portOf = (addr: string) => Number(addr.split("@")[0]!.split(":")[1]);
      const live = rows.filter((r) => !r[2]!.includes("fail"));
      return live
        .filter((r) => r[2]!.includes("master") && r.length > 8)
        .map((m) => ({ port: portOf(m[1]!), replica: live.filter((r) => r[3] === m[0]).map((r) => portOf(r[1]!))[0] ?? null }));
    }
    return [];
  }

  /** The hash slot of `key`. */
  async slotOf(key: string): Promise<number> {
    for (const port of this.ports) {
      const slot = await command(port, ["CLUSTER", "KEYSLOT", key]);
      if (typeof slot === "number") return slot;
    }
    throw new Error("no node of the cluster answers");
  }

  /** The port of the master serving `slot` now, as a living node sees it (null: none). */
  async ownerOf(slot: number): Promise<number | null> {
    for (const port of this.ports) {
      const ranges = await command(port, ["CLUSTER", "SLOTS"]);
      if (!Array.isArray(ranges)) continue;
      const range = (ranges as [number, number, [string, number]][]).find(([from, to]) => from <= slot && slot <= to);
      return range ? range[2][1] : null;
    }
    return null;
  }

  /**
   * Moves one slot, keys and all, to the master on port `to` while it serves, as
   * `redis-cli --cluster reshard` does: IMPORTING/MIGRATING, MIGRATE in small batches (clients
   * are sent ASK meanwhile), then the slot's new owner is told to every master. Returns how
   * many keys moved.
   */
  async moveSlot(slot: number, to: number): Promise<number> {
    const from = await this.ownerOf(slot);
    if (from === null || from === to) throw new Error(`slot ${slot} is not on another master than ${to}`);
    const [fromId, toId] = [await must(from, ["CLUSTER", "MYID"]), await must(to, ["CLUSTER", "MYID"])] as string[];
    await must(to, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId!]);
    await must(from, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId!]);
    let moved = 0;
    for (;;) {
      const keys = (await must(from, ["CLUSTER", "GETKEYSINSLOT", String(slot), "50"])) as string[];
      if (keys.length === 0) break;
      await must(from, ["MIGRATE", "127.0.0.1", String(to), "", "0", "5000", "REPLACE", "KEYS", ...keys]);
      moved += keys.length;
    }
    // the new owner first, then the old one, then the rest (the order redis-cli uses)
    const others = (await this.masters()).map((m) => m.port).filter((p) => p !== to && p !== from);
    for (const port of [to, from, ...others]) await must(port, ["CLUSTER", "SETSLOT", String(slot), "NODE", toId!]);
    return moved;
  }

  /** Every node answers, the cluster state is ok everywhere, and 3 masters each have a synced replica. */
  async healthy(): Promise<boolean> {
    for (const port of this.ports) {
      const cluster = await info(port, "cluster", ["CLUSTER", "INFO"]);
      if (!cluster?.includes("cluster_state:ok") || !cluster.includes(`cluster_known_nodes:${NODES}`)) return false;
      const replication = await info(port, "replication");
      if (replication?.includes("role:slave") && !replication.includes("master_link_status:up")) return false;
    }
    const masters = await this.masters();
    return masters.length === NODES / 2 && masters.every((m) => m.replica !== null);
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (Date.now() > until) throw new Error(`the Redis Cluster on ${this.nodes} did not become healthy`);
      await Bun.sleep(200);
    }
  }
}

/** One command to one node on a short-lived connection; null when the node does not answer. */
export async function command(port: number, args: string[]): Promise<unknown> {
  return must(port, args, 500).catch(() => null);
}

/** One command to one node on a short-lived connection; its error is thrown. */
async function must(port: number, args: string[], connectTimeout = 1000): Promise<unknown> {
  const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, connectTimeout, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return await redis.call(args[0]!, ...args.slice(1));
  } finally {
    redis.disconnect();
  }
}

async function info(port: number, section: string, args = ["INFO", section]): Promise<string | null> {
  const reply = await command(port, args);
  return typeof reply === "string" ? reply : null;
}

if (import.meta.main) {
  const cluster = new LocalRedisCluster();
  const action = process.argv[2];
  if (action === "start") {
    await cluster.start();
    console.log(cluster.nodes);
  } else if (action === "stop") {
    await cluster.stop();
  } else if (action === "status") {
    const healthy = await cluster.healthy();
    console.log(healthy ? `healthy: ${cluster.nodes}` : "not running (or not whole)");
    process.exit(healthy ? 0 : 1);
  } else {
    console.error("usage: bun scripts/redis-cluster.ts start|stop|status   (REDIS_CLUSTER_BASE_PORT, default 7101)");
    process.exit(2);
  }
}
