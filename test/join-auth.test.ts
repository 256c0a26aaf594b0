// JOIN_AUTH=jwt: joining needs a JWT from the operator's login; its sub is the user. Real
// tokens, signed with jose (HS256 with a secret, ES256 with a key pair made here).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { createTestEnv, type TestEnv } from "./helpers";

const SECRET = "join-test-secret-".padEnd(48, "j");
const ISSUER = "https://login.example";
const AUDIENCE = "ticket-queue";

type Claims = { sub?: string; iss?: string; aud?: string; exp?: number | string | null };

/** A token as the operator's login would issue it; `claims` change or drop (null) a claim. */
async function hs256(claims: Claims = {}, secret = SECRET, alg = "HS256"): Promise<string> {
  return sign(new TextEncoder().encode(secret), claims, alg);
}

async function sign(key: CryptoKey | Uint8Array, claims: Claims, alg: string): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg }).setIssuedAt();
  const { sub = "ann", iss = ISSUER, aud = AUDIENCE, exp = "5m" } = claims;
  if (claims.sub !== null) jwt.setSubject(sub);
  if (iss) jwt.setIssuer(iss);
  if (aud) jwt.setAudience(aud);
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

/** An unsigned token (alg "none"), built by hand: jose will not make one. */
function unsigned(sub: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 })}.`;
}

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect([res.status, res.body.error]).toEqual([status, code]);
  expect(typeof res.body.message).toBe("string");
}

describe("JOIN_AUTH=jwt with HS256", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ JOIN_AUTH: "jwt", JOIN_JWT_SECRET: SECRET, JOIN_JWT_ISSUER: ISSUER, JOIN_JWT_AUDIENCE: AUDIENCE });
  });
  afterAll(() => env.close());

  const joinAs = (jwt: string | null, body: object) =>
    env.call("POST", "/queue/join", body, jwt === null ? {} : { authorization: `Bearer ${jwt}` });

  test("the JWT's sub is the user; body user_id is optional", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const res = await joinAs(await hs256({ sub: "ann" }), { ticket_type_id: type });
    expect(res.status).toBe(200);
    expect(await env.s.redis.hexists(env.s.keys(type).users, "ann")).toBe(1);
    // the same user named in the body too (a number and its string are one user)
    const bob = await joinAs(await hs256({ sub: "42" }), { user_id: 42, ticket_type_id: type });
    expect(bob.status).toBe(200);
  });

  test("a verified rejoin while the place is live gets the same token back", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const jwt = await hs256({ sub: "cleo" });
    const first = await joinAs(jwt, { ticket_type_id: type });
    const again = await joinAs(await hs256({ sub: "cleo" }), { ticket_type_id: type, user_id: "cleo" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ queue_token: first.body.queue_token, position: 1, status: "queued" });
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(1);
    await env.drain();
    const held = await joinAs(jwt, { ticket_type_id: type });
    expect(held.body).toMatchObject({ queue_token: first.body.queue_token, status: "reserved", position: 0 });
  });

  test("sub is normalized by the user id rules: decomposed é is the composed user; a sub that breaks them is 401", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const first = await joinAs(await hs256({ sub: "jos\u00e9" }), { ticket_type_id: type });
    const again = await joinAs(await hs256({ sub: "jose\u0301" }), { ticket_type_id: type });
    expect(again.body.queue_token).toBe(first.body.queue_token);
    for (const sub of ["", "a\nb", "x".repeat(129)]) {
      const res = await joinAs(await hs256({ sub }), { ticket_type_id: type });
      expectError(res, 401, "unauthorized");
    }
  });

  test("401 unauthorized with WWW-Authenticate for a missing, expired, foreign or unsigned token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const past = Math.floor(Date.now() / 1000) - 60;
    const good = await hs256({ sub: "dan" });
    const cases: [string, string | null, Record<string, string>?][] = [
      ["no header", null],
      ["not bearer", null, { authorization: `Basic ${Buffer.from("dan:pw").toString("base64")}` }],
      ["empty bearer", null, { authorization: "Bearer " }],
      ["expired", await hs256({ sub: "dan", exp: past })],
      ["no exp", await hs256({ sub: "dan", exp: null })],
      ["no sub", await hs256({ sub: null as unknown as string })],
      ["wrong issuer", await hs256({ sub: "dan", iss: "https://evil.example" })],
      ["wrong audience", await hs256({ sub: "dan", aud: "someone-else" })],
      ["wrong secret", await hs256({ sub: "dan" }, "another-secret-".padEnd(48, "z"))],
      ["HS512 with the right secret", await hs256({ sub: "dan" }, SECRET, "HS512")],
      ["alg none", unsigned("dan")],
      ["tampered payload", good.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ sub: "eve", exp: 9999999999, iss: ISSUER, aud: AUDIENCE })).toString("base64url")}.`)],
      ["garbage", "not.a.jwt"],
    ];
    for (const [what, jwt, headers] of cases) {
      const res = await env.call("POST", "/queue/join", { user_id: "dan", ticket_type_id: type }, headers ?? (jwt ? { authorization: `Bearer ${jwt}` } : {}));
      expect([what, res.status, res.body.error]).toEqual([what, 401, "unauthorized"]);
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
      if (jwt && jwt.length > 40) expect(JSON.stringify(res.body)).not.toContain(jwt.split(".")[1]!); // never echo the token
    }
    const expired = await joinAs(await hs256({ sub: "dan", exp: past }), { ticket_type_id: type });
    expect(expired.body.message).toContain("expired");
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });

  test("403 user_mismatch when the body names another user than the token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const jwt = await hs256({ sub: "fay" });
    expectError(await joinAs(jwt, { user_id: "gus", ticket_type_id: type }), 403, "user_mismatch");
    expectError(await joinAs(jwt, { user_id: 7, ticket_type_id: type }), 403, "user_mismatch");
    expectError(await joinAs(jwt, { user_id: "fay\n", ticket_type_id: type }), 400, "invalid_input");
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
  });
});

describe("JOIN_AUTH=jwt with ES256 and a public key", () => {
  let env: TestEnv;
  let privateKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    env = await createTestEnv({ JOIN_AUTH: "jwt", JOIN_JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) });
  });
  afterAll(() => env.close());

  test("a token of the key's pair joins, and a rejoin gets the same token; anything else is 401", async () => {
    const type = await env.ticketType({ capacity: 10 });
    const jwt = await sign(privateKey, { sub: "hal", iss: "", aud: "" }, "ES256");
    const first = await env.call("POST", "/queue/join", { ticket_type_id: type }, { authorization: `Bearer ${jwt}` });
    expect(first.status).toBe(200);
    const again = await env.call("POST", "/queue/join", { ticket_type_id: type }, { authorization: `Bearer ${jwt}` });
    expect(again.body.queue_token).toBe(first.body.queue_token);
    // another key pair, and an HMAC made with the public key as its secret, are refused
    const other = (await generateKeyPair("ES256")).privateKey;
    const foreign = await sign(other, { sub: "hal", iss: "", aud: "" }, "ES256");
    const confused = await hs256({ sub: "hal", iss: "", aud: "" }, env.config.JOIN_JWT_PUBLIC_KEY!);
    for (const bad of [foreign, confused, unsigned("hal")]) {
      const res = await env.call("POST", "/queue/join", { ticket_type_id: type }, { authorization: `Bearer ${bad}` });
      expectError(res, 401, "unauthorized");
    }
  });
});

describe("JOIN_AUTH=none (the default)", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env.close());

  test("needs user_id, ignores any Authorization header, and never returns a live place's token", async () => {
    const type = await env.ticketType({ capacity: 10 });
    expectError(await env.call("POST", "/queue/join", { ticket_type_id: type }), 400, "invalid_input");
    const jwt = await hs256({ sub: "ivy" });
    const first = await env.call("POST", "/queue/join", { user_id: "ivy", ticket_type_id: type }, { authorization: `Bearer ${jwt}` });
    expect(first.status).toBe(200);
    const again = await env.call("POST", "/queue/join", { user_id: "ivy", ticket_type_id: type }, { authorization: `Bearer ${jwt}` });
    expectError(again, 409, "already_queued");
    expect(again.body).not.toHaveProperty("queue_token");
  });
});
