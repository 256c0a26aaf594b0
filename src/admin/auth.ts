// The operator's routes (/admin/...) ask for `Authorization: Bearer <ADMIN_TOKEN>`. Without a
// configured token they never run (403 admin_disabled); a missing or wrong one is 401. The
// check runs before the body is validated, so nobody learns anything about the routes without it.
import { timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { AppError } from "../errors";
import type { Services } from "../services";

const BEARER = /^Bearer +(\S+) *$/i;
const digest = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest();

/**
 * Whether `authorization` is `Bearer <one of tokens>`, compared in constant time whatever the
 * lengths (digests of equal size), and against every token whichever matches.
 */
export function bearerIsOneOf(tokens: string[], authorization: string | null): boolean {
  const given = authorization?.match(BEARER)?.[1];
  if (!given) return false;
  const seen = digest(given);
  let matched = false;
  for (const token of tokens) matched = timingSafeEqual(seen, digest(token)) || matched;
  return matched;
}

/** Throws unless `authorization` carries the admin token. */
export function checkAdmin(adminToken: string | undefined, authorization: string | null): void {
  if (!adminToken) throw new AppError(403, "admin_disabled", "the admin API is off: set ADMIN_TOKEN to turn it on");
  if (!bearerIsOneOf([adminToken], authorization)) {
    throw new AppError(401, "unauthorized", "the admin API needs Authorization: Bearer <ADMIN_TOKEN>", {
      "www-authenticate": 'Bearer realm="admin"',
    });
  }
}

/** An Elysia instance under /admin whose every route checks the admin token first. */
export function adminScope(s: Services) {
  return new Elysia({ prefix: "/admin" }).onTransform(({ request }) => checkAdmin(s.config.ADMIN_TOKEN, request.headers.get("authorization")));
}
