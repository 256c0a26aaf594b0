// The signed hand-off to the shop's checkout (issue #20 section 3): a reserved status carries
// checkout_url with a JWT the shop verifies offline with jose against GET /.well-known/jwks.json
// of a real instance; a changed claim fails; an expired hold's JWT is past exp; keys rotate.
// Real Redis and PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { ConfigError, DEV_CHECKOUT_KEY_FILE, loadEnv, loadServeConfig } from "../src/config/config";
import { startService, type RunningService } from "../src/server";
import { createTestEnv, join, quietLog, statusOf, waitFor, type TestEnv } from "./helpers";

const SHOP_KEY = "hand-off-test-shop-key-".padEnd(40, "k");
const CHECKOUT_URL = "https://shop.example.com/checkout?lang=en";
const PUBLIC_URL = "https://tickets.example.com";
const newKey = () => generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const KEY_A = newKey();
const KEY_B = newKey();

const shopEnv = (signingKey: string, extra: Record<string, string> = {}) => ({
  CONFIRM_BY: "shop", SHOP_API_KEYS: SHOP_KEY, CHECKOUT_URL, PUBLIC_URL, CHECKOUT_SIGNING_KEY: signingKey, PORT: "0", ...extra,
});

let env: TestEnv;
let instance: RunningService;
beforeAll(async () => {
  env = await createTestEnv(shopEnv(KEY_A));
  instance = await startService(env.config, quietLog);
});
afterAll(async () => {
  await instance?.stop();
  await env?.close();
});

const jwksOf = (i: RunningService) => createRemoteJWKSet(new URL(`http://127.0.0.1:${i.port}/.well-known/jwks.json`));
const verifyOptions = { issuer: PUBLIC_URL, audience: "checkout", algorithms: ["EdDSA"] };

/** A live hold of `quantity` tickets at 50 each, and its status. */
async function holdFor(user: string, quantity = 2) {
  const type = await env.ticketType({ capacity: 10 });
  const token = await join(env, user, type, quantity);
  await env.drain();
  const status = await statusOf(env, token);
  expect(status.status).toBe("reserved");
  return { token, type, status };
}

const jwtOf = (checkoutUrl: string) => new URL(checkoutUrl).searchParams.get("hold")!;

describe("checkout_url", () => {
  test("a reserved status carries CHECKOUT_URL with hold=<JWT>; the JWT verifies with jose against the JWKS and says who holds what until when", async () => {
    const { token, type, status } = await holdFor("alice", 3);
    expect(status.confirm_by).toBe("shop");
    const url = new URL(status.checkout_url);
    expect(url.origin + url.pathname).toBe("https://shop.example.com/checkout");
    expect(url.searchParams.get("lang")).toBe("en"); // the shop's own query is kept
    const { payload, protectedHeader } = await jwtVerify(jwtOf(status.checkout_url), jwksOf(instance), verifyOptions);
    const [hold] = await env.sql`SELECT expires_at FROM reservations WHERE token = ${token}`;
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(protectedHeader.kid).toBeString();
    expect(payload).toMatchObject({
      iss: PUBLIC_URL, aud: "checkout", sub: "alice", jti: env.s.tokens.verify(token)!.id, queue_token: token,
      ticket_type_id: type, quantity: 3, amount: 150, currency: "EUR", exp: Math.floor(hold!.expires_at.getTime() / 1000),
    });
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(60);
    // the next poll repeats the same text (a live stream compares answers as text)
    expect((await statusOf(env, token)).checkout_url).toBe(status.checkout_url);
    // and the shop confirms with the queue_token it read
    const booked = await env.call("POST", `/shop/holds/${payload.queue_token}/confirm`, { order_ref: "o-1", amount: payload.amount },
      { authorization: `Bearer ${SHOP_KEY}`, "idempotency-key": "k-1" });
    expect(booked.status).toBe(201);
    const after = await statusOf(env, token);
    expect(after.status).toBe("confirmed");
    expect(after.checkout_url).toBeUndefined();
  });

  test("a changed claim, or another audience, fails verification", async () => {
    const { status } = await holdFor("mallory", 1);
    const jwt = jwtOf(status.checkout_url);
    const [header, body, signature] = jwt.split(".");
    const claims = JSON.parse(Buffer.from(body!, "base64url").toString());
    for (const change of [{ quantity: 4 }, { amount: 0 }, { sub: "eve" }, { exp: claims.exp + 3600 }]) {
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString("base64url")}.${signature}`;
      await expect(jwtVerify(forged, jwksOf(instance), verifyOptions)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
    }
    await expect(jwtVerify(jwt, jwksOf(instance), { ...verifyOptions, audience: "another-shop" })).rejects.toThrow();
  });

  test("an extension signs a new hand-off whose exp is the new deadline; an expired hold's JWT is past exp", async () => {
    const { token, status } = await holdFor("slow-payer", 1);
    const first = decodeJwt(jwtOf(status.checkout_url));
    const extended = await env.call("POST", `/shop/holds/${token}/extend`, { seconds: 120 }, { authorization: `Bearer ${SHOP_KEY}` });
    expect(extended.status).toBe(200);
    const after = await statusOf(env, token);
    const second = decodeJwt(jwtOf(after.checkout_url));
    expect(second.exp).toBe(Math.floor(Date.parse(extended.body.expires_at) / 1000));
    expect(second.exp! - first.exp!).toBeGreaterThanOrEqual(119);

    await env.backdate(token);
    const [{ expires_at }] = await env.sql`SELECT expires_at FROM reservations WHERE token = ${token}`;
    expect(expires_at.getTime()).toBeLessThan(Date.now());
    // the hand-off was signed with the deadline of its time: at the hold's end it is refused too
    const atEnd = jwtVerify(jwtOf(after.checkout_url), jwksOf(instance), { ...verifyOptions, currentDate: new Date((second.exp! + 1) * 1000) });
    await expect(atEnd).rejects.toBeInstanceOf(errors.JWTExpired);
    expect((await statusOf(env, token)).checkout_url).toBeUndefined(); // lapsed: no hand-off
  });

  test("a live stream's reserved status carries the same checkout_url", async () => {
    const { token, status } = await holdFor("streamer", 1);
    const res = await fetch(`http://127.0.0.1:${instance.port}/reservation/stream?token=${token}`);
    const reader = res.body!.getReader();
    let text = "";
    await waitFor("the stream's reserved status", async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return text.includes("checkout_url");
    });
    await reader.cancel();
    expect(text).toContain(JSON.stringify(status.checkout_url));
  });
});

describe("GET /.well-known/jwks.json", () => {
  test("the current key, by its thumbprint; cacheable; the previous key listed while keys rotate", async () => {
    const res = await fetch(`http://127.0.0.1:${instance.port}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("max-age");
    const { keys } = (await res.json()) as { keys: any[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(keys[0].d).toBeUndefined(); // never the private part

    // a hand-off signed with key A...
    const { status } = await holdFor("rotating", 1);
    const signedByA = jwtOf(status.checkout_url);
    expect(decodeProtectedHeader(signedByA).kid).toBe(keys[0].kid);

    // ...still verifies against an instance signing with B while A is listed as the previous key
    const rotated = await createTestEnv(shopEnv(KEY_B, { CHECKOUT_SIGNING_KEY_PREVIOUS: KEY_A.replaceAll("\n", "\\n") }));
    const rotatedInstance = await startService(rotated.config, quietLog);
    const retired = await createTestEnv(shopEnv(KEY_B));
    const retiredInstance = await startService(retired.config, quietLog);
    try {
      const listed = (await (await fetch(`http://127.0.0.1:${rotatedInstance.port}/.well-known/jwks.json`)).json()) as { keys: any[] };
      expect(listed.keys.map((k) => k.kid)).toEqual([expect.any(String), keys[0].kid]);
      expect(listed.keys[0].kid).not.toBe(keys[0].kid);
      expect((await jwtVerify(signedByA, jwksOf(rotatedInstance), verifyOptions)).payload.sub).toBe("rotating");
      // once A is no longer listed, its hand-offs are refused
      await expect(jwtVerify(signedByA, jwksOf(retiredInstance), verifyOptions)).rejects.toThrow();
    } finally {
      await Promise.all([rotatedInstance.stop(), retiredInstance.stop()]);
      await Promise.all([rotated.close(), retired.close()]);
    }
  });

  test("without CHECKOUT_URL: 404 checkout_disabled, and a hold says the buyer confirms, with no checkout_url", async () => {
    const plain = await createTestEnv({});
    try {
      const res = await plain.call("GET", "/.well-known/jwks.json");
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("checkout_disabled");
      const type = await plain.ticketType({ capacity: 2 });
      const token = await join(plain, "bob", type, 1);
      await plain.drain();
      const status = await statusOf(plain, token);
      expect(status).toMatchObject({ status: "reserved", confirm_by: "buyer" });
      expect(status.checkout_url).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe("configuration", () => {
  const base = { TOKEN_SECRET: "x".repeat(32) };
  const refused = (vars: Record<string, string>, message: RegExp) => {
    expect(() => loadEnv({ ...base, ...vars })).toThrow(ConfigError);
    expect(() => loadEnv({ ...base, ...vars })).toThrow(message);
  };

  test("CHECKOUT_URL needs CONFIRM_BY=shop, PUBLIC_URL and an Ed25519 signing key; keys are never echoed", () => {
    const good = { CONFIRM_BY: "shop", CHECKOUT_URL, PUBLIC_URL, CHECKOUT_SIGNING_KEY: KEY_A };
    expect(loadEnv({ ...base, ...good }).CHECKOUT_URL).toBe(CHECKOUT_URL);
    refused({ ...good, CONFIRM_BY: "buyer" }, /CHECKOUT_URL needs CONFIRM_BY=shop/);
    refused({ ...good, PUBLIC_URL: "" }, /PUBLIC_URL must be set/);
    refused({ ...good, CHECKOUT_SIGNING_KEY: "" }, /CHECKOUT_SIGNING_KEY must be set/);
    refused({ ...good, CHECKOUT_URL: "ftp://shop" }, /CHECKOUT_URL/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    refused({ ...good, CHECKOUT_SIGNING_KEY: rsa }, /Ed25519/);
    refused({ ...good, CHECKOUT_SIGNING_KEY_PREVIOUS: "not a key" }, /CHECKOUT_SIGNING_KEY_PREVIOUS/);
    try {
      loadEnv({ ...base, ...good, CHECKOUT_SIGNING_KEY: rsa });
    } catch (err) {
      expect(String(err)).not.toContain(rsa.split("\n")[1]!);
    }
  });

  test("serve --dev keeps a signing key under .run/ (the same one at the next start) and a PUBLIC_URL of its port", () => {
    const dir = mkdtempSync(joinPath(tmpdir(), "tq-dev-"));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const vars = { CONFIRM_BY: "shop", CHECKOUT_URL, PORT: "4123" };
      const first = loadServeConfig(true, vars);
      expect(existsSync(DEV_CHECKOUT_KEY_FILE)).toBe(true);
      expect(first.config.CHECKOUT_SIGNING_KEY).toBe(readFileSync(DEV_CHECKOUT_KEY_FILE, "utf8").trim());
      expect(first.config.PUBLIC_URL).toBe("http://localhost:4123");
      expect(first.devFiles).toHaveLength(2);
      expect(loadServeConfig(true, vars).config.CHECKOUT_SIGNING_KEY).toBe(first.config.CHECKOUT_SIGNING_KEY);
      expect(() => loadServeConfig(false, vars)).toThrow(ConfigError); // without --dev: no token secret, no key
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
