// The shop's routes (/shop/...) ask for `Authorization: Bearer <one of SHOP_API_KEYS>`: server to
// server, never the buyer's browser. Without keys they never run (403 shop_disabled); a missing
// or wrong one is 401 (src/http/bearer.ts). Several keys at once let a key be rotated.
import { Elysia } from "elysia";
import { shopApiKeys, type Config } from "../config/config";
import { bearerOf, checkBearer, keyFingerprint, type BearerGuard } from "../http/bearer";
import { KEY_NEEDED } from "../core/error-codes";

const SHOP_GUARD: BearerGuard = {
  realm: "shop",
  disabled: "shop_disabled",
  unauthorized: KEY_NEEDED.shop,
};

/** An Elysia instance under /shop whose every route checks the shop's key first. */
export function shopScope(s: { config: Config }) {
  const keys = shopApiKeys(s.config.SHOP_API_KEYS);
  return new Elysia({ prefix: "/shop" }).onTransform(({ request }) => checkBearer(SHOP_GUARD, keys, request.headers.get("authorization")));
}

/** The audit log's actor for a shop request (its key already checked): shop:<the key's fingerprint>. */
export const shopActor = (request: Request): string => `shop:${keyFingerprint(bearerOf(request.headers.get("authorization")) ?? "")}`;
