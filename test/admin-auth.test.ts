// The admin guard: off without a token, 401 without the right one, constant-time either way.
import { describe, expect, test } from "bun:test";
import { checkAdmin } from "../src/admin/auth";
import { loadEnv } from "../src/config/config";
import { AppError } from "../src/core/errors";

const token = "admin-token-".padEnd(40, "z");

function refusal(adminToken: string | undefined, authorization: string | null): AppError | null {
  try {
    checkAdmin(adminToken, authorization);
    return null;
  } catch (err) {
    return err as AppError;
  }
}

describe("checkAdmin", () => {
  test("without ADMIN_TOKEN the admin API is off: 403 admin_disabled, whatever is sent", () => {
    for (const header of [null, `Bearer ${token}`, "Bearer "]) {
      expect(refusal(undefined, header)).toMatchObject({ status: 403, code: "admin_disabled" });
    }
  });

  test("a missing, malformed or wrong bearer token is 401 with WWW-Authenticate", () => {
    for (const header of [null, "", token, `Basic ${token}`, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, "Bearer", `Bearer  `]) {
      const err = refusal(token, header);
      expect(err).toMatchObject({ status: 401, code: "unauthorized" });
      expect(err!.headers["www-authenticate"]).toStartWith("Bearer");
    }
  });

  test("the right token passes, in any casing of the scheme", () => {
    expect(refusal(token, `Bearer ${token}`)).toBeNull();
    expect(refusal(token, `bearer ${token}`)).toBeNull();
  });

  test("ADMIN_TOKEN must be at least 32 characters, and a bad one is never echoed", () => {
    expect(() => loadEnv({ ADMIN_TOKEN: "short" })).toThrow(/^ADMIN_TOKEN must be at least 32 characters \(got a value that is too short\)$/);
    expect(loadEnv({ ADMIN_TOKEN: token }).ADMIN_TOKEN).toBe(token);
  });
});
