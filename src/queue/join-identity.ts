// Who is joining. JOIN_AUTH=none: whoever the body's user_id names, unverified, so a rejoin
// must never hand back that user's token. JOIN_AUTH=jwt: the `sub` of a JWT from the operator's
// own login, verified here (HS256 with JOIN_JWT_SECRET, or RS256/ES256 with JOIN_JWT_PUBLIC_KEY),
// so a rejoin may return the user's own token.
import { errors, jwtVerify } from "jose";
import type { Config } from "../config/config";
import { fail, failWith } from "../core/errors";
import { KEY_NEEDED } from "../core/error-codes";
import { jwtPublicKey } from "../config/jwt-key";
import { normalizeUserId, USER_ID_EXPECTED } from "./user-id";

export type JoinIdentity = {
  /** The joining user's canonical id, and whether a verified token vouched for it. */
  resolve(authorization: string | null, bodyUserId: unknown): Promise<{ userId: string; verified: boolean }>;
};

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;
// Clocks of the login service and this one may differ a little.
const CLOCK_TOLERANCE_SECONDS = 5;

const unauthorized = (reason: string, header = 'Bearer error="invalid_token"') =>
  failWith({ headers: { "www-authenticate": header } }, "unauthorized", reason);

/** Built once per service: the key is decoded here, not per request. */
export function createJoinIdentity(config: Config): JoinIdentity {
  const bodyUser = (raw: unknown): string => {
    const id = normalizeUserId(raw);
    if (id === null) throw fail("invalid_input", `user_id: ${USER_ID_EXPECTED}`);
    return id;
  };

  if (config.JOIN_AUTH !== "jwt") {
    return { resolve: async (_, raw) => ({ userId: bodyUser(raw), verified: false }) };
  }

  const publicKey = config.JOIN_JWT_PUBLIC_KEY === undefined ? null : jwtPublicKey(config.JOIN_JWT_PUBLIC_KEY);
  const key = publicKey?.key ?? new TextEncoder().encode(config.JOIN_JWT_SECRET);
  const options = {
    // one algorithm only: no "none", and no HMAC with a public key as its secret
    algorithms: [publicKey?.alg ?? "HS256"],
    issuer: config.JOIN_JWT_ISSUER,
    audience: config.JOIN_JWT_AUDIENCE,
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };

  return {
    async resolve(authorization, raw) {
      const jwt = authorization?.match(BEARER)?.[1];
      if (!jwt) throw unauthorized(KEY_NEEDED.join, "Bearer");
      let sub: unknown;
      try {
        sub = (await jwtVerify(jwt, key, options)).payload.sub;
      } catch (err) {
        throw unauthorized(reasonOf(err));
      }
      const userId = normalizeUserId(sub);
      if (userId === null) throw unauthorized("the token's sub is not a valid user id");
      if (raw !== undefined && bodyUser(raw) !== userId) {
        throw fail("user_mismatch");
      }
      return { userId, verified: true };
    },
  };
}

/** A short reason for a refused token; never the token or its claims' values. */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's "${err.claim}" claim is missing or not accepted`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token is not signed with the accepted algorithm";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  return "the token is not a valid JWT";
}
