// Throwaway Redis and PostgreSQL servers started from the installed redis-server / postgres
// binaries on free ports: for `npm test` and `npm start` on a machine without them
// (scripts/with-services.ts), and for the fault suite, which restarts them (chaos/).
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import Redis from "ioredis";
import { withDatabase } from "../src/config/database-url";

export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export async function postgresAnswers(url: string): Promise<boolean> {
  // the service creates its own database; the server is what matters
  const sql = postgres(withDatabase(url, "postgres"), { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await Promise.race([sql`SELECT 1`, Bun.sleep(3000).then(() => Promise.reject(new Error("timeout")))]);
    return true;
  } catch {
    return false;
  } finally {
    sql.end({ timeout: 0 }).catch(() => {});
  }
}

export function freePort(): number {
  for (;;) {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    // the system may offer a port it offered before: two servers told the same one would collide
    if (given.has(port)) continue;
    given.add(port);
    return port;
  }
}

/** Every port freePort() handed out in this process. */
const given = new Set<number>();

async function waitUntil(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 150; i++) {
    if (await check()) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

/** A redis-server of our own that keeps nothing on disk: a restart loses every key. */
export class LocalRedis {
  private child: ReturnType<typeof Bun.spawn> | null = null;
  readonly url: string;

  private constructor(readonly port: number) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<LocalRedis> {
    if (!Bun.which("redis-server")) {
      throw new Error(
        "Redis is not reachable and redis-server is not installed. Install it with\n" +
          "  sudo apt-get install -y redis-server\n" +
          "or point REDIS_URL at a running Redis.",
      );
    }
    const redis = new LocalRedis(freePort());
    await redis.launch();
    return redis;
  }

  private async launch() {
    this.child = Bun.spawn(
      ["redis-server", "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdout: "ignore", stderr: "inherit" },
    );
    await waitUntil(() => redisAnswers(this.url), "the throwaway Redis");
  }

  /** Killed outright and started again on the same port, empty. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    await Bun.sleep(downMs);
    await this.launch();
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill("SIGKILL");
    await this.child.exited;
    this.child = null;
  }
}

export function postgresBinaries(): string | null {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  }
  const initdb = Bun.which("initdb");
  return initdb ? initdb.replace(/\/initdb$/, "") : null;
}

/** A PostgreSQL cluster of our own in a temporary folder, removed by stop(). */
export class LocalPostgres {
  /** URL of the `ticket_queue` database (created by whoever migrates). */
  readonly url: string;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly runAs: string[],
    readonly port: number,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/ticket_queue`;
  }

  static async start(): Promise<LocalPostgres> {
    const bin = postgresBinaries();
    if (!bin) {
      throw new Error(
        "PostgreSQL is not reachable and its server binaries are not installed. Install them with\n" +
          "  sudo apt-get install -y postgresql\n" +
          "or point DATABASE_URL at a running PostgreSQL.",
      );
    }
    // PostgreSQL refuses to run as root; as root it runs as the postgres user the package made.
    const asRoot = userInfo().uid === 0;
    const dir = mkdtempSync(join(tmpdir(), "ticket-queue-pg-"));
    if (asRoot) await Bun.spawn(["chown", "postgres", dir]).exited;
    const pg = new LocalPostgres(bin, dir, asRoot ? ["runuser", "-u", "postgres", "--"] : [], freePort());
    try {
      await pg.pgCommand("initdb", ["-D", pg.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
      await pg.pgCtl("start");
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return pg;
  }

  private get data() {
    return join(this.dir, "data");
  }

  private async pgCommand(name: string, args: string[]) {
    const child = Bun.spawn([...this.runAs, join(this.bin, name), ...args], { stdout: "ignore", stderr: "pipe" });
    if ((await child.exited) !== 0) throw new Error(`${name} failed: ${await new Response(child.stderr).text()}`);
  }

  private async pgCtl(action: "start" | "restart") {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    await this.pgCommand("pg_ctl", ["-D", this.data, "-l", join(this.dir, "log"), "-w", "-m", "immediate", action, "-o", options]);
    await waitUntil(() => postgresAnswers(this.url), "the throwaway PostgreSQL");
  }

  /** A hot standby of this one (pg_basebackup -R: it streams from it), on a port of its own; stop() removes it. */
  async standby(): Promise<LocalPostgres> {
    const dir = mkdtempSync(join(tmpdir(), "ticket-queue-pg-"));
    if (this.runAs.length > 0) await Bun.spawn(["chown", "postgres", dir]).exited;
    const standby = new LocalPostgres(this.bin, dir, this.runAs, freePort());
    try {
      await standby.pgCommand("pg_basebackup", ["-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", "-D", standby.data, "-R", "-c", "fast"]);
      await standby.pgCtl("start");
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return standby;
  }

  /** Stopped at once (every connection dropped, as in a crash) and started again. */
  async restart(): Promise<void> {
    await this.pgCtl("restart");
  }

  /** Stopped at once (every connection dropped), its data kept: up() starts it again. */
  async down(): Promise<void> {
    await this.pgCommand("pg_ctl", ["-D", this.data, "-w", "-m", "immediate", "stop"]);
  }

  async up(): Promise<void> {
    await this.pgCtl("start");
  }

  async stop(): Promise<void> {
    Bun.spawnSync([...this.runAs, join(this.bin, "pg_ctl"), "-D", this.data, "-m", "immediate", "stop"]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
