// One running instance: dependencies reached and migrated, processor and cleaner workers
// started, HTTP served. main.ts runs one; tests run several side by side.
import { hostname } from "node:os";
import { createApp } from "./app";
import { describeRedis, describeUrl, type Config } from "./config";
import { seedDemo } from "./demo";
import type { Logger } from "./log";
import { closeServices, createServices } from "./services";
import { migrateLogged, StartupError, waitForDependencies } from "./startup";
import { startWorker } from "./workers/host";

/**
 * Bun refuses a body over its own limit with an empty 413, before any of our code runs. Ours is
 * far smaller (src/body.ts, checked on the declared length before reading, and counted while
 * reading a chunked one), so Bun's is set out of reach: every refusal is our JSON 413.
 */
const BUN_BODY_LIMIT = Number.MAX_SAFE_INTEGER;

export type RunningService = { port: number; stop(timeoutMs?: number): Promise<void> };

export async function startService(config: Config, log: Logger, options: { demo?: boolean } = {}): Promise<RunningService> {
  const s = createServices(config, log);
  await waitForDependencies(s, config, log);
  await migrateLogged(s, log);
  if (options.demo && (await seedDemo(s.sql))) log.info("created the demo event");

  const workers = await Promise.all([
    startWorker(new URL("./workers/processor.ts", import.meta.url),
      `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`, config, log),
    startWorker(new URL("./workers/cleaner.ts", import.meta.url), "cleaner", config, log),
  ]);
  const stopRest = async (timeoutMs: number) => {
    await Promise.all(workers.map((w) => w.stop(timeoutMs - 2000))); // each finishes its batch
    await closeServices(s).catch((err) => log.warn("closing connections failed", { error: err }));
  };
  let app: ReturnType<typeof createApp>;
  try {
    // Elysia asks Bun for reusePort, which lets a second instance share the port unnoticed
    // (each with its own --dev secret). Several HTTP threads on one port must ask for it here.
    // development: false: the page is bundled once, as in the binary (Bun's dev mode adds an
    // inline script that the page's Content-Security-Policy refuses).
    app = createApp(s).listen({ port: config.PORT, reusePort: false, maxRequestBodySize: BUN_BODY_LIMIT, development: false });
  } catch (err) {
    await stopRest(5000);
    if ((err as { code?: string }).code === "EADDRINUSE") throw new StartupError(`port ${config.PORT} is already in use`);
    throw err;
  }
  const port = app.server!.port!;
  // port first: bench/harness.ts reads it off this line. No passwords: describeUrl drops them.
  log.info("listening", {
    port, url: app.server!.url.origin, redis: describeRedis(config), postgres: describeUrl(config.DATABASE_URL),
  });

  return {
    port,
    async stop(timeoutMs = 10_000) {
      // Live streams first: they would never finish by themselves, and their clients reconnect
      // (to another instance) after the retry advice they were given.
      s.streams.close();
      await app.stop(); // stop accepting; requests in progress finish
      await stopRest(timeoutMs);
    },
  };
}
