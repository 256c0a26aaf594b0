// Bearer keys for the server-to-server APIs (/admin, /shop, /metrics): compared in constant
// time, never logged. Without a configured key the routes never run (403); a missing or wrong
// one is 401 with WWW-Authenticate. The check runs before the body is validated, so nobody
// learns anything about the routes without a key.
import { timingSafeEqual } from "node:crypto";
import { fail, failWith } from "../core/errors";
import type { ErrorCode } from "../core/error-codes";

const BEARER = /^Bearer +(\S+) *$/i;
const digest = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest();

/** The key an Authorization header carries, if it is `Bearer <key>`. */
export const bearerOf = (authorization: string | null): string | undefined => authorization?.match(BEARER)?.[1];

/**
 * A short name for a key that is safe to keep and show (the audit log): the first 8 hex
 * characters of its SHA-256. It says which of several keys was used, and nothing of the key.
 */
export const keyFingerprint = (key: string): string => digest(key).toString("hex").slice(0, 8);

/**
 * Whether `authorization` is `Bearer <one of tokens>`, compared in constant time whatever the
 * lengths (digests of equal size), and against every token whichever matches.
 */
export function bearerIsOneOf(tokens: string[], authorization: string | null): boolean {
  const given = bearerOf(authorization);
  if (!given) return false;
  const seen = digest(given);
  let matched = false;
  for (const token of tokens) matched = timingSafeEqual(seen, digest(token)) || matched;
  return matched;
}

/** What one API's guard says: its realm, its code when off, and what it needs when the key is wrong. */
export type BearerGuard = {
  realm: string;
  disabled: ErrorCode & `${string}_disabled`;
  unauthorized: string;
};

/** Throws unless `authorization` carries one of `keys`; with no keys, the API is off. */
export function checkBearer(guard: BearerGuard, keys: string[], authorization: string | null): void {
  if (keys.length === 0) throw fail(guard.disabled);
  if (!bearerIsOneOf(keys, authorization)) {
    throw failWith({ headers: { "www-authenticate": `Bearer realm="${guard.realm}"` } }, "unauthorized", guard.unauthorized);
  }
}
