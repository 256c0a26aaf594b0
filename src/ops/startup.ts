// Start-up: wait for PostgreSQL and Redis (saying which and where), then migrate.
import { describeRedis, describeUrl, type Config } from "../config/config";
import { ensureDatabase, migrate, type Sql } from "../store/db";
import type { Logger } from "../core/log";
import type { RedisClient } from "../store/redis";

export class StartupError extends Error {}

export async function waitForDependencies(s: { sql: Sql; redis: RedisClient }, config: Config, log: Logger): Promise<void> {
  const deadline = Date.now() + config.STARTUP_TIMEOUT_SECONDS * 1000;
  await retryUntil(deadline, log, `PostgreSQL at ${describeUrl(config.DATABASE_URL)}`, async () => {
    if (await ensureDatabase(config.DATABASE_URL)) log.info("created the database");
    await s.sql`SELECT 1`;
  });
  let connecting: Promise<void> | null = null;
  let socketError: Error | null = null;
  const remember = (err: Error) => (socketError = err);
  s.redis.on("error", remember);
  await retryUntil(deadline, log, `Redis at ${describeRedis(config)}`, async () => {
    // One connect() call; ioredis keeps reconnecting by itself after a failed first attempt.
    connecting ??= s.redis.connect().catch(() => {});
    await connecting;
    // While disconnected, ping only says the client is offline; the socket error says why.
    await s.redis.ping().catch((err) => Promise.reject(socketError ?? err));
  });
  s.redis.off("error", remember);
}

export async function migrateLogged(s: { sql: Sql }, log: Logger): Promise<void> {
  const applied = await migrate(s.sql);
  if (applied.length > 0) log.info("applied migrations", { applied });
}

async function retryUntil(deadline: number, log: Logger, what: string, attempt: () => Promise<void>) {
  for (let tries = 1; ; tries++) {
    try {
      await attempt();
      if (tries > 1) log.info(`reached ${what}`);
      return;
    } catch (err) {
      const reason = err instanceof Error ? err.message || String((err as { code?: string }).code) : String(err);
      if (Date.now() >= deadline) throw new StartupError(`${what} is unreachable: ${reason}`);
      log.warn(`waiting for ${what}`, { reason });
      await Bun.sleep(1000);
    }
  }
}
