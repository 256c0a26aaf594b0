// The binary's entry: `ticket-queue [serve|migrate|check|help] [--dev] [--demo]`.
import { parseArgs } from "node:util";
import { ConfigError, describeUrl, loadConfigWithoutSecret, loadServeConfig, loadToolingEnv } from "./config/config";
import { createSql } from "./store/db";
import { during } from "./core/errors";
import { describeLedger, stockLedger } from "./store/invariants";
import { createLogger } from "./core/log";
import { startService } from "./server";
import { closeServices, createServices } from "./services";
import { migrateLogged, StartupError, waitForDependencies } from "./ops/startup";

const USAGE = `usage: ticket-queue [command] [flags]

commands:
  serve     migrate the database, then serve HTTP with the processor and cleaner (default)
  migrate   apply pending database migrations and exit
  check     recompute every ticket type's stock from the tables (capacity = stock + held +
            confirmed); exit 1 when any has drifted
  help      show this text

flags:
  --dev     when TOKEN_SECRET or CHECKOUT_SIGNING_KEY is not set, use the one kept in .run/
            under the working directory (made on first use), so tokens and hand-offs survive
            a restart; PUBLIC_URL defaults to http://localhost:<PORT>
  --demo    create a demo event when the database has none

configuration comes from the environment; see README.md.`;

const SHUTDOWN_LIMIT_MS = 10_000;

/** Read before start-up, which takes seconds: a parent that dies meanwhile is still noticed. */
const PARENT_AT_START = process.ppid;

const OPTIONS = { dev: { type: "boolean" }, demo: { type: "boolean" }, help: { type: "boolean" } } as const;

/** The command (serve by default), the flags, and the first argument not understood, as given. */
function parseCommandLine(args: string[]) {
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    const [command = "serve", ...extra] = positionals;
    return { command, dev: !!values.dev, demo: !!values.demo, help: !!values.help, unknown: extra[0] };
  } catch (err) {
    if (!String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) throw err;
    // A flag was refused: a lenient pass says which, as typed, and whether help was asked for.
    const { tokens } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
    const isKnown = (t: (typeof tokens)[number]) => t.kind === "option" && t.name in OPTIONS && t.value === undefined;
    const refused = tokens.find((t) => t.kind === "option" && !isKnown(t));
    const command = tokens.find((t) => t.kind === "positional")?.value ?? "serve";
    const help = tokens.some((t) => isKnown(t) && t.kind === "option" && t.name === "help");
    return { command, dev: false, demo: false, help, unknown: args[refused?.index ?? 0] };
  }
}

async function main(argv: string[]): Promise<void> {
  const { command, dev, demo, help, unknown } = parseCommandLine(argv);
  if (command === "help" || help) return void console.log(USAGE);
  if (unknown) return fail(2, `unknown argument ${unknown}\n${USAGE}`);

  try {
    if (command === "serve") return await serve(dev, demo);
    if (command === "migrate") return await migrateOnly();
    if (command === "check") return await checkStock();
    return fail(2, `unknown command ${command}\n${USAGE}`);
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, `ticket-queue: bad configuration: ${err.message}`);
    if (err instanceof StartupError) return fail(1, `ticket-queue: ${err.message}`);
    throw err;
  }
}

async function serve(dev: boolean, demo: boolean): Promise<void> {
  const { config, devFiles } = loadServeConfig(dev);
  const log = createLogger(config.LOG_LEVEL);
  // A signal during start-up (a deploy's stop, the fault suite) is heard from the start and
  // acted on once the service is up: a stop is always graceful, never the default kill.
  let started: Awaited<ReturnType<typeof startService>> | null = null;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    setTimeout(() => {
      log.error("shutdown took too long; exiting anyway");
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    if (!started) return; // still starting: stopped as soon as it is up
    await started.stop(SHUTDOWN_LIMIT_MS - 1000);
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  for (const file of devFiles) log.warn("--dev: a secret from a development file; set TOKEN_SECRET and CHECKOUT_SIGNING_KEY in production", { file });
  if (dev && !config.ADMIN_TOKEN) {
    // a throwaway admin token, printed so the developer can use the admin API; gone with the process
    config.ADMIN_TOKEN = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    log.warn("--dev: a throwaway ADMIN_TOKEN for this run", { admin_token: config.ADMIN_TOKEN });
  }
  started = await startService(config, log, { demo });
  if (stopping) {
    stopping = false; // the signal came during start-up: stop now
    await shutdown("signal during start-up");
  }
  stopWithParent(() => void shutdown("parent exited"));
}

/**
 * Started by scripts/with-services (npm start), which names itself in TQ_STOP_WITH_PARENT: stop
 * when it is gone, even if it was killed without a word, rather than live on as an orphan.
 * Checked against our actual parent, as the variable is inherited by whatever we start in turn.
 */
function stopWithParent(stop: () => void) {
  const parent = loadToolingEnv().TQ_STOP_WITH_PARENT;
  if (!parent || PARENT_AT_START !== parent) return;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    stop();
  }, 500);
  watch.unref();
}

async function migrateOnly(): Promise<void> {
  const config = loadConfigWithoutSecret();
  const log = createLogger(config.LOG_LEVEL);
  const s = createServices(config, log);
  await waitForDependencies(s, config, log);
  await migrateLogged(s, log);
  await closeServices(s);
  log.info("database is up to date");
}

async function checkStock(): Promise<void> {
  const config = loadConfigWithoutSecret();
  const sql = createSql(config.DATABASE_URL);
  try {
    const ledger = await during("PostgreSQL", () => stockLedger(sql));
    for (const l of ledger) {
      console.log(`${l.drift === 0 ? "ok   " : "DRIFT"} ticket type ${l.ticket_type_id} "${l.name}": ${describeLedger(l)}`);
    }
    const drifted = ledger.filter((l) => l.drift !== 0).length;
    console.log(drifted === 0 ? `all ${ledger.length} ticket types add up` : `${drifted} of ${ledger.length} ticket types drifted`);
    process.exitCode = drifted === 0 ? 0 : 1;
  } catch (err) {
    fail(1, `ticket-queue: cannot check PostgreSQL at ${describeUrl(config.DATABASE_URL)}: ${err instanceof Error ? err.message : err}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function fail(code: number, message: string): never {
  console.error(message);
  process.exit(code);
}

await main(process.argv.slice(2));
