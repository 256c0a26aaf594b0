// Runs a command with Redis and PostgreSQL it can reach: the configured ones (REDIS_URL,
// DATABASE_URL) when they answer, else throwaway servers started here from the installed
// redis-server / postgres binaries on free ports, removed again when the command ends.
//   bun scripts/with-services.ts <command...>
import { LocalPostgres, LocalRedis, postgresAnswers, redisAnswers } from "./local-servers";

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ticket_queue";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const cleanups: Array<() => void | Promise<void>> = [];
const say = (line: string) => console.error(`[with-services] ${line}`);

async function main() {
  const command = process.argv.slice(2);
  if (command.length === 0) throw new Error("usage: bun scripts/with-services.ts <command...>");
  const env = { ...process.env };
  env.REDIS_URL ??= DEFAULT_REDIS_URL;
  env.DATABASE_URL ??= DEFAULT_DATABASE_URL;
  if (!(await redisAnswers(env.REDIS_URL))) {
    say(`no Redis answers at ${env.REDIS_URL}`);
    const redis = await LocalRedis.start();
    cleanups.push(() => redis.stop());
    env.REDIS_URL = redis.url;
    say(`started a throwaway Redis on ${redis.url}`);
  }
  if (!(await postgresAnswers(env.DATABASE_URL))) {
    say(`no PostgreSQL answers at ${new URL(env.DATABASE_URL).host}`);
    const pg = await LocalPostgres.start();
    cleanups.push(() => pg.stop());
    env.DATABASE_URL = pg.url;
    say(`started a throwaway PostgreSQL on ${pg.url}`);
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
