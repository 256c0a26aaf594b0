import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterNodes, ConfigError, loadConfig, loadEnv, loadToolingEnv } from "../src/config/config";
import { hashTag } from "../src/store/redis";

describe("config", () => {
  test("config.ts is the one reader of the environment in src/", async () => {
    const readers: string[] = [];
    for await (const file of new Bun.Glob("**/*.ts").scan(join(import.meta.dir, "..", "src"))) {
      if (file === "config/config.ts") continue;
      const text = await Bun.file(join(import.meta.dir, "..", "src", file)).text();
      if (/process\.env|Bun\.env|import\.meta\.env/.test(text)) readers.push(file);
    }
    expect(readers).toEqual([]);
  });

  test("tooling settings: a crash point and the launcher to stop with", () => {
    expect(loadToolingEnv({})).toEqual({ TQ_CRASH_AT: undefined, TQ_STOP_WITH_PARENT: undefined });
    expect(loadToolingEnv({ TQ_CRASH_AT: "join:queued", TQ_STOP_WITH_PARENT: "123" })).toEqual({
      TQ_CRASH_AT: "join:queued",
      TQ_STOP_WITH_PARENT: 123,
    });
    expect(loadToolingEnv({ TQ_STOP_WITH_PARENT: "nope" }).TQ_STOP_WITH_PARENT).toBeUndefined();
  });

  test("defaults", () => {
    expect(loadEnv({})).toMatchObject({
      PORT: 3000,
      RESERVATION_TTL_SECONDS: 120,
      CLEANER_INTERVAL_MS: 1000,
      LOG_LEVEL: "info",
      REDIS_URL: "redis://127.0.0.1:6379",
      WEBHOOK_CONCURRENCY: 128,
      WEBHOOK_ENDPOINT_CONCURRENCY: 64,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_POLL_MS: 100,
      WEBHOOK_RETRY_SCHEDULE: "0,5,300,1800,7200,18000,36000,36000",
      WEBHOOK_RETENTION_DAYS: 7,
    });
  });

  test("each bad value is one clear message naming the variable", () => {
    const cases: Record<string, string> = {
      PORT: "eighty",
      RESERVATION_TTL_SECONDS: "0",
      CLEANER_INTERVAL_MS: "1.5",
      PROCESSOR_BATCH_SIZE: "-3",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://nope",
      REDIS_URL: "http://nope",
      REDIS_CLUSTER_NODES: "10.0.0.1",
      TOKEN_SECRET: "short",
      HOST: "not a host",
      WEBHOOK_CONCURRENCY: "0",
      WEBHOOK_ENDPOINT_CONCURRENCY: "many",
      WEBHOOK_TIMEOUT_MS: "50",
      WEBHOOK_POLL_MS: "1.5",
      WEBHOOK_RETRY_SCHEDULE: "5,10",
      WEBHOOK_RETENTION_DAYS: "0",
    };
    for (const [name, value] of Object.entries(cases)) {
      expect(() => loadEnv({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
    }
    expect(() => loadEnv({ TOKEN_SECRET: "short" })).not.toThrow(/short"/); // never echo a secret
  });

  test("REDIS_CLUSTER_NODES: host:port, comma-separated (IPv6 in brackets)", () => {
    const nodes = " 10.0.0.1:7000, redis-b.internal:7001,[::1]:7002 ";
    expect(loadEnv({ REDIS_CLUSTER_NODES: nodes }).REDIS_CLUSTER_NODES).toBe(nodes);
    expect(clusterNodes(nodes)).toEqual([
      { host: "10.0.0.1", port: 7000 }, { host: "redis-b.internal", port: 7001 }, { host: "::1", port: 7002 },
    ]);
    for (const bad of ["10.0.0.1", "10.0.0.1:7000,", "redis://10.0.0.1:7000", "a:1 b:2"]) {
      expect(() => loadEnv({ REDIS_CLUSTER_NODES: bad })).toThrow(/^REDIS_CLUSTER_NODES must be a comma-separated list of host:port/);
    }
    expect(loadEnv({}).REDIS_CLUSTER_NODES).toBeUndefined();
  });

  test("HOST: an IP address or a host name; unset, every interface", () => {
    expect(loadEnv({}).HOST).toBeUndefined();
    for (const host of ["127.0.0.1", "0.0.0.0", "::1", "::", "fd00::2", "localhost", "app-1.internal", "example.com.", "3com.example"]) {
      expect(loadEnv({ HOST: host }).HOST).toBe(host);
    }
    for (const bad of ["[::1]", "127.0.0.1:3000", "http://127.0.0.1", "256.1.1.1", "1.2.3", "256.1.1.1.", "-bad.example", "a..b", "under_score", "a b", "x".repeat(64), "::g"]) {
      expect(() => loadEnv({ HOST: bad })).toThrow(`HOST must be an IP address (like 127.0.0.1 or ::1) or a host name (got ${JSON.stringify(bad)})`);
    }
  });

  test("a key's hash tag is its first non-empty {...}, as Redis Cluster reads it", () => {
    expect(hashTag("queue:{12}")).toBe("12");
    expect(hashTag("p:reservation:{12}:abc{9}")).toBe("12");
    expect(hashTag("a{}b{c}")).toBe("a{}b{c}"); // an empty first tag: the whole key
    expect(hashTag("active-ticket-types")).toBe("active-ticket-types");
  });

  test("JOIN_AUTH=jwt needs exactly one of JOIN_JWT_SECRET and JOIN_JWT_PUBLIC_KEY", async () => {
    const secret = "join-secret-".padEnd(40, "s");
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(loadEnv({}).JOIN_AUTH).toBe("none");
    expect(() => loadEnv({ JOIN_AUTH: "jwt" })).toThrow(/^JOIN_JWT_SECRET or JOIN_JWT_PUBLIC_KEY must be set/);
    expect(() => loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_SECRET: secret, JOIN_JWT_PUBLIC_KEY: pem })).toThrow(/must not both be set/);
    expect(() => loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_SECRET: "short" })).toThrow(/^JOIN_JWT_SECRET must be at least 32 characters \(got a value that is too short\)$/);
    expect(() => loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_PUBLIC_KEY: "not a key" })).toThrow(/^JOIN_JWT_PUBLIC_KEY must be a PEM public key/);
    expect(() => loadEnv({ JOIN_AUTH: "jws" })).toThrow(/^JOIN_AUTH must be one of none, jwt/);
    // a key without jwt mode would leave joins unverified while the operator thinks otherwise
    expect(() => loadEnv({ JOIN_JWT_SECRET: secret })).toThrow(/^JOIN_AUTH must be jwt when JOIN_JWT_SECRET is set/);
    expect(loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_SECRET: secret })).toMatchObject({ JOIN_AUTH: "jwt", JOIN_JWT_SECRET: secret });
    // a PEM with its line breaks written as \n, as environment files often carry it
    expect(loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_PUBLIC_KEY: pem.replaceAll("\n", "\\n") }).JOIN_AUTH).toBe("jwt");
    const ed = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(() => loadEnv({ JOIN_AUTH: "jwt", JOIN_JWT_PUBLIC_KEY: ed })).toThrow(/RSA, or EC P-256/);
  });

  test("serve needs a token secret unless --dev keeps one in a file of its own", async () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    const dir = await mkdtemp(join(tmpdir(), "tq-config-"));
    try {
      const file = join(dir, ".run", "dev-token-secret");
      const secret = loadConfig({}, file).TOKEN_SECRET;
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(loadConfig({}, file).TOKEN_SECRET).toBe(secret); // the next start keeps it
      expect(loadConfig({ TOKEN_SECRET: "y".repeat(32) }, file).TOKEN_SECRET).toBe("y".repeat(32));
      writeFileSync(file, "short\n");
      expect(() => loadConfig({}, file)).toThrow(/dev-token-secret must hold/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the binary exits 2 with one line naming the variable", async () => {
    const run = Bun.spawn(["bun", "src/main.ts", "serve"], {
      env: { ...process.env, PORT: "not-a-port", TOKEN_SECRET: "x".repeat(40) },
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(await run.exited).toBe(2);
    const stderr = (await new Response(run.stderr).text()).trim();
    expect(stderr.split("\n")).toHaveLength(1);
    expect(stderr).toContain("PORT must be a whole number");
  });

  test("a bad HOST is a configuration error: exit 2, one line", async () => {
    const run = Bun.spawn(["bun", "src/main.ts", "serve"], {
      env: { ...process.env, HOST: "127.0.0.1:3000", TOKEN_SECRET: "x".repeat(40) },
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(await run.exited).toBe(2);
    expect((await new Response(run.stderr).text()).trim()).toBe(
      'ticket-queue: bad configuration: HOST must be an IP address (like 127.0.0.1 or ::1) or a host name (got "127.0.0.1:3000")',
    );
  });

  test("unknown commands and flags exit 2", async () => {
    for (const args of [["launch"], ["serve", "--turbo"]]) {
      const run = Bun.spawn(["bun", "src/main.ts", ...args], { stderr: "pipe", stdout: "pipe" });
      expect(await run.exited).toBe(2);
    }
  });
});
