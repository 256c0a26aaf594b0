// Runs a command with Redis and PostgreSQL it can reach: the configured ones (REDIS_URL,
// DATABASE_URL) when they answer, else throwaway servers started here from the installed
// redis-server / postgres binaries on free ports, removed again when the command ends.
//   bun scripts/with-services.ts <command...>
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import Redis from "ioredis";

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ticket_queue";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const cleanups: Array<() => void | Promise<void>> = [];
const say = (line: string) => console.error(`[with-services] ${line}`);

async function redisAnswers(url: string): Promise<boolean> {
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

async function postgresAnswers(url: string): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = "/postgres"; // the service creates its own database; the server is what matters
  const sql = postgres(admin.toString(), { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await Promise.race([sql`SELECT 1`, Bun.sleep(3000).then(() => Promise.reject(new Error("timeout")))]);
    return true;
  } catch {
    return false;
  } finally {
    sql.end({ timeout: 0 }).catch(() => {});
  }
}

function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

async function waitUntil(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

async function startRedis(): Promise<string> {
  if (!Bun.which("redis-server")) {
    throw new Error(
      "Redis is not reachable and redis-server is not installed. Install it with\n" +
        "  sudo apt-get install -y redis-server\n" +
        "or point REDIS_URL at a running Redis.",
    );
  }
  const port = freePort();
  const child = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdout: "ignore",
    stderr: "inherit",
  });
  cleanups.push(() => child.kill());
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil(() => redisAnswers(url), "the throwaway Redis");
  say(`started a throwaway Redis on ${url}`);
  return url;
}

function postgresBinaries(): string | null {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  }
  const initdb = Bun.which("initdb");
  return initdb ? initdb.replace(/\/initdb$/, "") : null;
}

async function startPostgres(): Promise<string> {
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
  const runAs = asRoot ? ["runuser", "-u", "postgres", "--"] : [];
  const dir = mkdtempSync(join(tmpdir(), "ticket-queue-pg-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  if (asRoot) await Bun.spawn(["chown", "postgres", dir]).exited;
  const data = join(dir, "data");
  const run = async (args: string[]) => {
    const child = Bun.spawn([...runAs, ...args], { stdout: "ignore", stderr: "pipe" });
    if ((await child.exited) !== 0) throw new Error(`${args[0]} failed: ${await new Response(child.stderr).text()}`);
  };
  await run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const port = freePort();
  await run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "start",
    "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`]);
  cleanups.push(() => void Bun.spawnSync([...runAs, join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"]));
  const url = `postgres://postgres@127.0.0.1:${port}/ticket_queue`;
  await waitUntil(() => postgresAnswers(url), "the throwaway PostgreSQL");
  say(`started a throwaway PostgreSQL on ${url}`);
  return url;
}

async function main() {
  const command = process.argv.slice(2);
  if (command.length === 0) throw new Error("usage: bun scripts/with-services.ts <command...>");
  const env = { ...process.env };
  env.REDIS_URL ??= DEFAULT_REDIS_URL;
  env.DATABASE_URL ??= DEFAULT_DATABASE_URL;
  if (!(await redisAnswers(env.REDIS_URL))) {
    say(`no Redis answers at ${env.REDIS_URL}`);
    env.REDIS_URL = await startRedis();
  }
  if (!(await postgresAnswers(env.DATABASE_URL))) {
    say(`no PostgreSQL answers at ${new URL(env.DATABASE_URL).host}`);
    env.DATABASE_URL = await startPostgres();
  }
  const child = Bun.spawn(command, { env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", () => forward("SIGINT"));
  process.on("SIGTERM", () => forward("SIGTERM"));
  return child.exited;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
process.exit(code);
