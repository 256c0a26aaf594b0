// Environment -> typed, validated config. The one place that reads process.env.
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { dirname, resolve } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { checkoutSigningKey, checkoutVerifyingKey } from "./checkout-keys";
import { jwtPublicKey } from "./jwt-key";
import { describeDatabaseUrl, parseDatabaseUrl } from "./database-url";

const Int = (min: number, max: number, fallback: number) =>
  Type.Integer({ minimum: min, maximum: max, default: fallback });

// scheme://host[:port], as a browser sends it in Origin: no path, no trailing slash.
const ORIGIN = String.raw`https?://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?`;

// host:port of one Redis Cluster node: a name or IPv4 address (IPv6 in brackets) and a port.
const NODE = String.raw`([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}`;

// A host name: dot-separated labels of letters, digits and inner hyphens (RFC 1123), the last
// not all digits (that would be a broken IPv4 address, like 256.1.1.1).
const HOST_NAME = /^(?=.{1,253}\.?$)(?!(.*\.)?[0-9]+\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export const ConfigSchema = Type.Object({
  PORT: Int(0, 65535, 3000),
  // The address to listen on: an IP address or a host name; unset, every interface (behind a
  // proxy on the same machine, 127.0.0.1 keeps the service off the network). Checked in loadEnv.
  HOST: Type.Optional(Type.String()),
  DATABASE_URL: Type.String({
    pattern: "^postgres(ql)?://",
    default: "postgres://postgres@127.0.0.1:5432/ticket_queue",
  }),
  REDIS_URL: Type.String({ pattern: "^rediss?://", default: "redis://127.0.0.1:6379" }),
  // A Redis Cluster instead: some of its nodes as host:port,host:port (REDIS_URL is then unused).
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: `^\\s*${NODE}(\\s*,\\s*${NODE})*\\s*$` })),
  // Prepended to every Redis key: lets tests, or two deployments, share one Redis.
  REDIS_KEY_PREFIX: Type.String({ maxLength: 64, pattern: "^[A-Za-z0-9:_-]*$", default: "" }),
  // Threads serving HTTP on the one port (Bun's reusePort), by default one per core (as many as
  // DATABASE_POOL_SIZE leaves room for); still one processor and one cleaner per instance.
  HTTP_THREADS: Int(1, 256, availableParallelism()),
  // The most PostgreSQL connections one instance opens, all threads and workers together
  // (src/store/db-pool.ts shares them out); a request waits for a free one rather than open more.
  DATABASE_POOL_SIZE: Int(4, 1000, 20),
  RESERVATION_TTL_SECONDS: Int(1, 86400, 120),
  CLEANER_INTERVAL_MS: Int(10, 600_000, 1000),
  // 2000 drained fastest and steadiest on the 2-core machine (500-4000 compared; see README Performance)
  PROCESSOR_BATCH_SIZE: Int(1, 10_000, 2000),
  TOKEN_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  LOG_LEVEL: Type.Union(
    [Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")],
    { default: "info" },
  ),
  // How long before a ticket type's sale_starts_at joiners may wait in its pre-queue (0: none;
  // a join before that is 409 not_on_sale). Up to a week: a pre-queued place lives that long.
  PREQUEUE_MINUTES: Int(0, 10_080, 15),
  // How long start-up waits for Redis and PostgreSQL before giving up.
  STARTUP_TIMEOUT_SECONDS: Int(0, 3600, 30),
  // Browser origins allowed to call the API, comma-separated; none: no CORS headers at all.
  CORS_ORIGINS: Type.String({ pattern: `^\\s*(${ORIGIN}(\\s*,\\s*${ORIGIN})*)?\\s*$`, default: "" }),
  // The operator's bearer token for /admin (at least 32 characters); without it /admin is off.
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 32 })),
  // A bearer token for GET /metrics alone (at least 32 characters), so Prometheus need not hold
  // ADMIN_TOKEN; the admin token is accepted there too. Without either, /metrics is off.
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 32 })),
  // jwt: joining needs the operator's login's JWT, whose sub is the user (README Threat model).
  JOIN_AUTH: Type.Union([Type.Literal("none"), Type.Literal("jwt")], { default: "none" }),
  JOIN_JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })), // HS256
  JOIN_JWT_PUBLIC_KEY: Type.Optional(Type.String()), // PEM: RS256 or ES256 (checked below)
  JOIN_JWT_ISSUER: Type.Optional(Type.String()),
  JOIN_JWT_AUDIENCE: Type.Optional(Type.String()),
  // Per-client rate limits (src/rate-limit/): "off" turns them all off (tests, benchmarks).
  RATE_LIMITS: Type.Union([Type.Literal("on"), Type.Literal("off")], { default: "on" }),
  // Each "<burst>,<per minute>": a token bucket of <burst> requests, refilled <per minute>.
  // Defaults far above a real buyer (a page polls status every 2 s, reconnects a stream after
  // a blip, reloads), far below a script hammering the API (README Configuration).
  RATE_LIMIT_JOIN: RateSetting("20,60"),
  RATE_LIMIT_STATUS: RateSetting("60,300"),
  RATE_LIMIT_STREAM: RateSetting("30,120"),
  RATE_LIMIT_CONFIRM: RateSetting("20,60"), // confirm and release share it
  // Live streams one client may hold open at once.
  RATE_LIMIT_OPEN_STREAMS: Int(1, 1_000_000, 20),
  // How many proxies in front append to X-Forwarded-For; the client is the hop the outermost of
  // them added (that many from the right). 0: the header is ignored, the client is the socket's peer.
  TRUST_PROXY: Int(0, 10, 0),
  // The currency of an event created without one (ISO 4217: three capital letters).
  CURRENCY: Type.String({ pattern: "^[A-Z]{3}$", default: "EUR" }),
  // Who confirms a hold: the buyer (POST /reservation/confirm), or the shop alone, after payment (/shop).
  CONFIRM_BY: Type.Union([Type.Literal("buyer"), Type.Literal("shop")], { default: "buyer" }),
  // The shop's bearer keys for /shop, comma-separated, each at least 32 characters (several at
  // once while a key is rotated); none: /shop is off. Checked in loadEnv.
  SHOP_API_KEYS: Type.Optional(Type.String()),
  // The most seconds the shop may add to one hold, all its extensions together.
  HOLD_EXTEND_MAX_SECONDS: Int(0, 86400, 600),
  // The shop's checkout page: a reserved status then carries checkout_url, this address with
  // hold=<a signed JWT> added (src/checkout/). Needs CONFIRM_BY=shop, PUBLIC_URL and a signing key.
  CHECKOUT_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$" })),
  // The Ed25519 private key (PKCS#8 PEM) the hand-off is signed with; `serve --dev` keeps one in
  // .run/. The previous key (private or public PEM) stays listed in /.well-known/jwks.json while
  // shops still hold hand-offs it signed.
  CHECKOUT_SIGNING_KEY: Type.Optional(Type.String()),
  CHECKOUT_SIGNING_KEY_PREVIOUS: Type.Optional(Type.String()),
  // The service's own address as buyers reach it (the hand-off's issuer, where the shop sends
  // the buyer back); `serve --dev`: http://localhost:<PORT>.
  PUBLIC_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$" })),
  // The hand-off's audience: what the shop expects in aud.
  CHECKOUT_AUDIENCE: Type.String({ minLength: 1, maxLength: 200, default: "checkout" }),
  // Webhooks (src/webhooks/): requests in flight at once, per instance, and to any one endpoint
  // (a receiver that hangs holds no more than that many of them).
  // One endpoint's share bounds its pace (64 in flight: ~3,000 a second to a local receiver).
  WEBHOOK_CONCURRENCY: Int(1, 10_000, 128),
  // ...and at most this many while the instance's processor is granting holds (within the last
  // second): the sale's cores come first; deliveries catch up after the rush.
  WEBHOOK_BUSY_CONCURRENCY: Int(1, 10_000, 32),
  WEBHOOK_ENDPOINT_CONCURRENCY: Int(1, 10_000, 64),
  // How long a receiver has to answer one delivery; then it is a failed attempt.
  WEBHOOK_TIMEOUT_MS: Int(100, 60_000, 10_000),
  // How often an idle instance looks for deliveries due.
  WEBHOOK_POLL_MS: Int(10, 60_000, 100),
  // Seconds before each attempt, the first after the event (0), each next after a failure; after the last, failed.
  // (Standard Webhooks' schedule; src/webhooks/retry-schedule.ts reads it. Checked in loadEnv.)
  WEBHOOK_RETRY_SCHEDULE: Type.String({ pattern: String.raw`^\s*0(\s*,\s*[0-9]{1,6})*\s*$`, default: "0,5,300,1800,7200,18000,36000,36000" }),
  // Delivered deliveries are deleted this many days after delivery (failed ones are kept).
  WEBHOOK_RETENTION_DAYS: Int(1, 3650, 7),
});

/** A rate setting's text: "<burst>,<per minute>", each a whole number from 1 (checked in loadEnv). */
function RateSetting(fallback: string) {
  return Type.String({ pattern: String.raw`^\s*[0-9]{1,9}\s*,\s*[0-9]{1,9}\s*$`, default: fallback });
}

export type Rate = { burst: number; perMinute: number };

/** "20,60" -> { burst: 20, perMinute: 60 } (the text already matched RateSetting's pattern). */
export function rateOf(setting: string): Rate {
  const [burst, perMinute] = setting.split(",").map(Number) as [number, number];
  return { burst, perMinute };
}

const RATE_SETTINGS = ["RATE_LIMIT_JOIN", "RATE_LIMIT_STATUS", "RATE_LIMIT_STREAM", "RATE_LIMIT_CONFIRM"] as const;

/** The most attempts WEBHOOK_RETRY_SCHEDULE may list (src/webhooks/retry-schedule.ts checks the same). */
export const WEBHOOK_MOST_ATTEMPTS = 100;

/** The threads of one instance (http: the HTTP_THREADS beyond the main one). */
export type Thread = "main" | "http" | "processor" | "cleaner" | "webhooks";

/** What the processor, the cleaner and the webhooks worker need at least, together: one connection each (src/store/db-pool.ts shares the pool out). */
export const WORKER_CONNECTIONS_AT_LEAST = 3;

export type Env = Static<typeof ConfigSchema>;
export type Config = Omit<Env, "TOKEN_SECRET"> & { TOKEN_SECRET: string };

export class ConfigError extends Error {}

const describe = (name: string): string => {
  const schema = ConfigSchema.properties[name as keyof Env] as Record<string, unknown> | undefined;
  if (!schema) return "";
  if ("anyOf" in schema) return `one of ${(schema.anyOf as { const: string }[]).map((v) => v.const).join(", ")}`;
  if (schema.type === "integer") return `a whole number from ${schema.minimum} to ${schema.maximum}`;
  if ((RATE_SETTINGS as readonly string[]).includes(name)) return '"<burst>,<per minute>", two whole numbers from 1, like "20,60"';
  if (name === "REDIS_CLUSTER_NODES") return "a comma-separated list of host:port, like 10.0.0.1:6379,10.0.0.2:6379";
  if (name === "HOST") return "an IP address (like 127.0.0.1 or ::1) or a host name";
  if (name === "CORS_ORIGINS") return "a comma-separated list of origins like https://shop.example.com or http://localhost:5173";
  if (name === "WEBHOOK_RETRY_SCHEDULE") return `a comma-separated list of seconds (at most ${WEBHOOK_MOST_ATTEMPTS} attempts, each wait up to 604800), the first 0, like "0,5,300,1800"`;
  if (name === "SHOP_API_KEYS") return "a comma-separated list of keys, each at least 32 characters";
  if (schema.minLength) return `at least ${schema.minLength} characters`;
  if (schema.pattern) return `a value matching ${schema.pattern}`;
  return "valid";
};

const SECRETS = new Set(["TOKEN_SECRET", "JOIN_JWT_SECRET", "ADMIN_TOKEN", "METRICS_TOKEN", "SHOP_API_KEYS", "CHECKOUT_SIGNING_KEY", "CHECKOUT_SIGNING_KEY_PREVIOUS"]);

/** The keys in SHOP_API_KEYS, as a list (blanks around commas ignored). */
export const shopApiKeys = (value: string | undefined): string[] =>
  (value ?? "").split(",").map((key) => key.trim()).filter((key) => key !== "");

/** DATABASE_URL must parse, with one host or several; its password never goes into the message. */
function checkDatabaseUrl(url: string): void {
  try {
    parseDatabaseUrl(url);
  } catch (err) {
    throw new ConfigError(
      `DATABASE_URL must be a postgres:// URL, with one host or several like postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write (${(err as Error).message})`,
    );
  }
}

/** JWT mode needs exactly one way to check signatures; the settings mean nothing without it. */
function checkJoinAuth(env: Env): void {
  const keys = ["JOIN_JWT_SECRET", "JOIN_JWT_PUBLIC_KEY"] as const;
  const given = keys.filter((k) => env[k] !== undefined);
  if (env.JOIN_AUTH === "jwt" && given.length !== 1) {
    throw new ConfigError(
      given.length === 0
        ? "JOIN_JWT_SECRET or JOIN_JWT_PUBLIC_KEY must be set when JOIN_AUTH=jwt"
        : "JOIN_JWT_SECRET and JOIN_JWT_PUBLIC_KEY must not both be set: choose HS256 or a public key",
    );
  }
  if (env.JOIN_JWT_PUBLIC_KEY !== undefined && !jwtPublicKey(env.JOIN_JWT_PUBLIC_KEY)) {
    throw new ConfigError("JOIN_JWT_PUBLIC_KEY must be a PEM public key (RSA, or EC P-256)");
  }
  // A key set without jwt mode would leave joins unverified while the operator believes otherwise.
  if (env.JOIN_AUTH !== "jwt" && given.length > 0) {
    throw new ConfigError(`JOIN_AUTH must be jwt when ${given[0]} is set`);
  }
}

/** The hand-off needs its keys whole, an issuer, and a shop that confirms (else a buyer could skip paying). */
function checkCheckout(env: Env): void {
  if (env.CHECKOUT_SIGNING_KEY !== undefined && !checkoutSigningKey(env.CHECKOUT_SIGNING_KEY)) {
    throw new ConfigError("CHECKOUT_SIGNING_KEY must be an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)");
  }
  if (env.CHECKOUT_SIGNING_KEY_PREVIOUS !== undefined && !checkoutVerifyingKey(env.CHECKOUT_SIGNING_KEY_PREVIOUS)) {
    throw new ConfigError("CHECKOUT_SIGNING_KEY_PREVIOUS must be an Ed25519 key in PEM (the previous private key, or its public key)");
  }
  for (const name of ["CHECKOUT_URL", "PUBLIC_URL"] as const) {
    if (env[name] !== undefined && !URL.canParse(env[name])) throw new ConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(env[name])})`);
  }
  if (env.CHECKOUT_URL === undefined) return;
  if (env.CONFIRM_BY !== "shop") {
    throw new ConfigError("CHECKOUT_URL needs CONFIRM_BY=shop: with buyer, a buyer could confirm without paying");
  }
  for (const name of ["CHECKOUT_SIGNING_KEY", "PUBLIC_URL"] as const) {
    if (env[name] === undefined) throw new ConfigError(`${name} must be set when CHECKOUT_URL is (or pass --dev for a development one)`);
  }
}

/**
 * Every HTTP thread needs a connection of its own, and the processor and the cleaner one each:
 * the default thread count stays within DATABASE_POOL_SIZE; a count asked for must fit.
 */
function fitThreadsToPool(env: Env, threadsGiven: boolean): void {
  const most = env.DATABASE_POOL_SIZE - WORKER_CONNECTIONS_AT_LEAST;
  if (!threadsGiven) env.HTTP_THREADS = Math.min(env.HTTP_THREADS, most);
  else if (env.HTTP_THREADS > most) {
    throw new ConfigError(
      `HTTP_THREADS=${env.HTTP_THREADS} needs DATABASE_POOL_SIZE of at least ${env.HTTP_THREADS + WORKER_CONNECTIONS_AT_LEAST} ` +
      `(a connection per HTTP thread, one each for the processor, the cleaner and the webhooks worker; got ${env.DATABASE_POOL_SIZE})`,
    );
  }
}

/** Reads the variables the service knows; a bad one is a ConfigError naming it. */
export function loadEnv(env: Record<string, string | undefined> = process.env): Env {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(ConfigSchema.properties)) {
    const value = env[name];
    if (value !== undefined && value !== "") raw[name] = value;
  }
  const threadsGiven = raw.HTTP_THREADS !== undefined; // (TypeBox fills defaults into raw below)
  const fail = (name: string): never => {
    const given = SECRETS.has(name) ? "a value that is too short" : JSON.stringify(raw[name]);
    throw new ConfigError(`${name} must be ${describe(name)} (got ${given})`);
  };
  // TypeBox would quietly turn "1.5" into 1; a whole number must be written as one.
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    if (schema.type === "integer" && name in raw && !/^\s*\d+\s*$/.test(String(raw[name]))) fail(name);
  }
  const value = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const problem = Value.Errors(ConfigSchema, value).First();
  if (problem) fail(problem.path.split("/")[1] ?? "config");
  checkDatabaseUrl((value as Env).DATABASE_URL);
  const host = (value as Env).HOST;
  if (host !== undefined && isIP(host) === 0 && !HOST_NAME.test(host)) fail("HOST");
  for (const name of RATE_SETTINGS) {
    const rate = rateOf((value as Env)[name]);
    if (rate.burst < 1 || rate.perMinute < 1) fail(name);
  }
  const shopKeys = shopApiKeys((value as Env).SHOP_API_KEYS);
  if ("SHOP_API_KEYS" in raw && (shopKeys.length === 0 || shopKeys.some((key) => key.length < 32))) fail("SHOP_API_KEYS");
  const schedule = (value as Env).WEBHOOK_RETRY_SCHEDULE.split(",").map(Number);
  if (schedule.length > WEBHOOK_MOST_ATTEMPTS || schedule.some((s) => s > 7 * 86_400)) fail("WEBHOOK_RETRY_SCHEDULE");
  checkJoinAuth(value as Env);
  checkCheckout(value as Env);
  fitThreadsToPool(value as Env, threadsGiven);
  return value as Env;
}

/** Where `serve --dev` keeps its token secret and its checkout signing key, under the working directory (git-ignored). */
export const DEV_SECRET_FILE = ".run/dev-token-secret";
export const DEV_CHECKOUT_KEY_FILE = ".run/dev-checkout-key.pem";

/**
 * `serve`'s config. With `dev`: a TOKEN_SECRET and CHECKOUT_SIGNING_KEY not set are the ones
 * kept under .run/ (their paths are returned, to be logged), and PUBLIC_URL defaults to
 * http://localhost:<PORT>.
 */
export function loadServeConfig(dev: boolean, env: Record<string, string | undefined> = process.env): { config: Config; devFiles: string[] } {
  if (!dev) return { config: loadConfig(env), devFiles: [] };
  const devSecretFile = env.TOKEN_SECRET ? undefined : resolve(DEV_SECRET_FILE);
  const devKeyFile = env.CHECKOUT_SIGNING_KEY ? undefined : resolve(DEV_CHECKOUT_KEY_FILE);
  const devEnv = {
    ...env,
    CHECKOUT_SIGNING_KEY: env.CHECKOUT_SIGNING_KEY || keptFile(devKeyFile!, newSigningKey, isSigningKey, "an Ed25519 private key"),
    PUBLIC_URL: env.PUBLIC_URL || `http://localhost:${env.PORT || 3000}`,
  };
  return { config: loadConfig(devEnv, devSecretFile), devFiles: [devSecretFile, devKeyFile].filter((f) => f !== undefined) };
}

/** Migrating and checking need no token secret; a placeholder keeps the shared config type whole. */
export const loadConfigWithoutSecret = (env: Record<string, string | undefined> = process.env): Config =>
  loadConfig({ ...env, TOKEN_SECRET: "x".repeat(32) });

/**
 * Settings for tests and tooling, never for operators, read here as well so this file stays
 * the one reader of the environment:
 * - TQ_CRASH_AT: the test crash point to die at (src/core/crash-points.ts; the fault suite sets it);
 * - TQ_STOP_WITH_PARENT: the pid of the launcher (scripts/with-services.ts) whose exit stops `serve`.
 */
export function loadToolingEnv(env: Record<string, string | undefined> = process.env): {
  TQ_CRASH_AT?: string;
  TQ_STOP_WITH_PARENT?: number;
} {
  const parent = Number(env.TQ_STOP_WITH_PARENT);
  return { TQ_CRASH_AT: env.TQ_CRASH_AT, TQ_STOP_WITH_PARENT: parent || undefined };
}

/**
 * The full config of a running service. A token secret is required, unless `devSecretFile`
 * names where `--dev` keeps one: made once, so a restart does not orphan every token.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, devSecretFile?: string): Config {
  const parsed = loadEnv(env);
  let secret = parsed.TOKEN_SECRET;
  if (!secret) {
    if (!devSecretFile) {
      throw new ConfigError(
        "TOKEN_SECRET must be set to at least 32 characters (or pass --dev to keep a development one in .run/)",
      );
    }
    secret = devSecret(devSecretFile);
  }
  return { ...parsed, TOKEN_SECRET: secret };
}

const newSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url") + "\n";
const newSigningKey = () => generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const isSigningKey = (pem: string) => checkoutSigningKey(pem) !== null;

/** The secret kept in `file`, made on first use and readable by its owner alone. */
const devSecret = (file: string) => keptFile(file, newSecret, (text) => text.length >= 32, "a TOKEN_SECRET of at least 32 characters");

/** The text kept in `file` (`what` it must be), made with `make` on first use, readable by its owner alone. */
function keptFile(file: string, make: () => string, valid: (text: string) => boolean, what: string): string {
  try {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // Written aside and linked into place: two starts at once both end up with the one text.
      const aside = `${file}.${process.pid}`;
      writeFileSync(aside, make(), { mode: 0o600 });
      try {
        linkSync(aside, file);
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw err;
      } finally {
        rmSync(aside, { force: true });
      }
    }
    const text = readFileSync(file, "utf8").trim();
    if (valid(text)) return text;
  } catch (err) {
    throw new ConfigError(`--dev could not keep ${what} in ${file}: ${(err as Error).message}`);
  }
  throw new ConfigError(`${file} must hold ${what} (delete it to make a new one)`);
}

/** The origins in CORS_ORIGINS, as a list; lower case, as browsers send them. */
export const corsOrigins = (value: string): string[] =>
  value.split(",").map((origin) => origin.trim().toLowerCase()).filter((origin) => origin !== "");

/** The nodes in REDIS_CLUSTER_NODES (brackets taken off an IPv6 host). */
export const clusterNodes = (value: string): { host: string; port: number }[] =>
  value.split(",").map((node) => node.trim()).filter((node) => node !== "").map((node) => {
    const colon = node.lastIndexOf(":");
    return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(node.slice(colon + 1)) };
  });

/** Where Redis is, for log lines: the URL without its password, or the cluster's nodes. */
export const describeRedis = (config: Pick<Config, "REDIS_URL" | "REDIS_CLUSTER_NODES">): string =>
  config.REDIS_CLUSTER_NODES ? `cluster ${config.REDIS_CLUSTER_NODES.replace(/\s/g, "")}` : describeUrl(config.REDIS_URL);

/** Where a URL points, without its password, for log lines and error messages. */
export function describeUrl(url: string): string {
  try {
    if (/^postgres(ql)?:/.test(url)) return describeDatabaseUrl(url); // may name several hosts
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith("redis") ? 6379 : 5432)}${u.pathname.length > 1 ? u.pathname : ""}`;
  } catch {
    return "(unparseable URL)";
  }
}
