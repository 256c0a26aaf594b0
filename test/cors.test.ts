// CORS: only the origins in CORS_ORIGINS get the headers a browser needs; by default none do.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ConfigError, loadEnv } from "../src/config/config";
import { createTestEnv, type TestEnv } from "./helpers";

const SHOP = "https://shop.example.com";
let plain: TestEnv;
let withCors: TestEnv;

beforeAll(async () => {
  plain = await createTestEnv();
  withCors = await createTestEnv({ CORS_ORIGINS: `${SHOP}, http://localhost:5173` });
});
afterAll(async () => {
  await plain?.close();
  await withCors?.close();
});

const preflight = (env: TestEnv, origin: string) =>
  env.app.handle(new Request("http://test/queue/join", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  }));

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((name) => name.startsWith("access-control-"));

test("a preflight from an allowed origin gets the CORS headers", async () => {
  const res = await preflight(withCors, SHOP);
  expect(res.status).toBe(204);
  expect(res.headers.get("access-control-allow-origin")).toBe(SHOP);
  expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  expect(res.headers.get("access-control-allow-headers")).toContain("content-type");
  // the request itself, an error answer too (so the front end can read it)
  const refused = await withCors.app.handle(new Request("http://test/queue/join", {
    method: "POST",
    headers: { origin: "http://localhost:5173" },
    body: "{}",
  }));
  expect(refused.status).toBe(400);
  expect(refused.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
  expect(refused.headers.get("access-control-expose-headers")).toBe("retry-after, x-request-id");
});

test("another origin is not allowed", async () => {
  for (const origin of ["https://evil.example.com", "http://shop.example.com"]) {
    expect((await preflight(withCors, origin)).headers.get("access-control-allow-origin")).toBeNull();
  }
});

test("by default there are no CORS headers at all", async () => {
  expect(corsHeaders(await preflight(plain, SHOP))).toEqual([]);
  const res = await plain.app.handle(new Request("http://test/health", { headers: { origin: SHOP } }));
  expect(corsHeaders(res)).toEqual([]);
});

test("a bad origin is a configuration error naming CORS_ORIGINS", () => {
  for (const value of ["*", "shop.example.com", "https://shop.example.com/", "https://a.com,,https://b.com"]) {
    expect(() => loadEnv({ CORS_ORIGINS: value })).toThrow(ConfigError);
    expect(() => loadEnv({ CORS_ORIGINS: value })).toThrow(/^CORS_ORIGINS must be/);
  }
});
