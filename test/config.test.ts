import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, loadEnv } from "../src/config";

describe("config", () => {
  test("defaults", () => {
    expect(loadEnv({})).toMatchObject({
      PORT: 3000,
      RESERVATION_TTL_SECONDS: 120,
      CLEANER_INTERVAL_MS: 1000,
      LOG_LEVEL: "info",
      REDIS_URL: "redis://127.0.0.1:6379",
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
      TOKEN_SECRET: "short",
    };
    for (const [name, value] of Object.entries(cases)) {
      expect(() => loadEnv({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
    }
    expect(() => loadEnv({ TOKEN_SECRET: "short" })).not.toThrow(/short"/); // never echo a secret
  });

  test("serve needs a token secret unless --dev makes one", () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(loadConfig({}, true).TOKEN_SECRET.length).toBeGreaterThanOrEqual(32);
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

  test("unknown commands and flags exit 2", async () => {
    for (const args of [["launch"], ["serve", "--turbo"]]) {
      const run = Bun.spawn(["bun", "src/main.ts", ...args], { stderr: "pipe", stdout: "pipe" });
      expect(await run.exited).toBe(2);
    }
  });
});
