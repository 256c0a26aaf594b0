// Bearer keys for the server-to-server APIs (/admin, /shop, /metrics): compared in constant
// time, never logged. Without a configured key the routes never run (403); a missing or wrong
// one is 401 with WWW-Authenticate. The check runs before the body is validated, so nobody
// learns anything about the routes without a key.
import { timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";

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

/** What one API's guard says: its realm, and its refusals when off and when the key is wrong. */
export type BearerGuard = {
  realm: string;
  disabled: { code: string; message: string };
  unauthorized: string;
};

/** Throws unless `authorization` carries one of `keys`; with no keys, the API is off. */
export function checkBearer(guard: BearerGuard, keys: string[], authorization: string | null): void {
  if (keys.length === 0) throw new AppError(403, guard.disabled.code, guard.disabled.message);
  if (!bearerIsOneOf(keys, authorization)) {
    throw new AppError(401, "unauthorized", guard.unauthorized, { "www-authenticate": `Bearer realm="${guard.realm}"` });
  }
}
