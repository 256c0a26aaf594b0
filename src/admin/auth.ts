// The operator's routes (/admin/...) ask for `Authorization: Bearer <ADMIN_TOKEN>`. Without a
// configured token they never run (403 admin_disabled); a missing or wrong one is 401
// (src/http/bearer.ts).
import { Elysia } from "elysia";
import { checkBearer, type BearerGuard } from "../http/bearer";
import type { Config } from "../config/config";
import { KEY_NEEDED } from "../core/error-codes";

const ADMIN_GUARD: BearerGuard = {
  realm: "admin",
  disabled: "admin_disabled",
  unauthorized: KEY_NEEDED.admin,
};

/** Throws unless `authorization` carries the admin token. */
export function checkAdmin(adminToken: string | undefined, authorization: string | null): void {
  checkBearer(ADMIN_GUARD, adminToken ? [adminToken] : [], authorization);
}

/** An Elysia instance under /admin whose every route checks the admin token first. */
export function adminScope(s: { config: Config }) {
  return new Elysia({ prefix: "/admin" }).onTransform(({ request }) => checkAdmin(s.config.ADMIN_TOKEN, request.headers.get("authorization")));
}
