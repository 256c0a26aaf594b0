// GET /.well-known/jwks.json: the public keys a shop verifies checkout hand-offs with (RFC 7517),
// offline, with any JOSE library (jose's createRemoteJWKSet). Without a signing key: 404.
import { Elysia } from "elysia";
import { fail } from "../core/errors";
import type { CheckoutHandOff } from "./hand-off";

/** Five minutes: a shop sees a new key soon after a rotation (the previous one stays listed meanwhile). */
const CACHE_CONTROL = "public, max-age=300";

export const checkoutRoutes = (s: { checkout: CheckoutHandOff | null }) =>
  new Elysia().get("/.well-known/jwks.json", async ({ set }) => {
    if (!s.checkout) throw fail("checkout_disabled");
    set.headers["cache-control"] = CACHE_CONTROL;
    return s.checkout.jwks();
  });
