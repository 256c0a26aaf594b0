// The pure parts of webhook delivery: the retry schedule, and the webhook-signature header
// (one v1 signature per secret that signs; both while a rotated-away secret still does).
import { describe, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { loadEnv } from "../src/config/config";
import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule, retryDelaySeconds } from "../src/webhooks/retry-schedule";
import { signatureHeader, signingSecrets } from "../src/webhooks/signer";
import { newSecret } from "./webhook-receiver";

describe("retry schedule", () => {
  test("Standard Webhooks' schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then failed", () => {
    expect([...DEFAULT_RETRY_SCHEDULE]).toEqual([0, 5, 300, 1800, 7200, 5 * 3600, 10 * 3600, 10 * 3600]);
    expect(parseRetrySchedule(loadEnv({}).WEBHOOK_RETRY_SCHEDULE)).toEqual([...DEFAULT_RETRY_SCHEDULE]);
    const waits = Array.from({ length: 8 }, (_, i) => retryDelaySeconds(DEFAULT_RETRY_SCHEDULE, i + 1));
    expect(waits).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 36_000, null]);
    expect(retryDelaySeconds(DEFAULT_RETRY_SCHEDULE, 9)).toBeNull();
  });

  test("a schedule from the setting; one attempt alone fails at its first failure", () => {
    expect(parseRetrySchedule(" 0, 1 ,2")).toEqual([0, 1, 2]);
    expect(retryDelaySeconds([0, 1, 2], 1)).toBe(1);
    expect(retryDelaySeconds([0, 1, 2], 2)).toBe(2);
    expect(retryDelaySeconds([0, 1, 2], 3)).toBeNull();
    expect(retryDelaySeconds([0], 1)).toBeNull();
    for (const bad of ["", "1,2", "0,-1", "0,1.5", "0,,1", "0,x", "0,999999", Array(101).fill(0).join(",")]) {
      expect(parseRetrySchedule(bad)).toBeNull();
    }
  });

  test("WEBHOOK_RETRY_SCHEDULE is checked with the other settings", () => {
    expect(loadEnv({ WEBHOOK_RETRY_SCHEDULE: "0,1,1" }).WEBHOOK_RETRY_SCHEDULE).toBe("0,1,1");
    for (const bad of ["1,2", "0,x", "0;1", "0,999999", Array(101).fill(0).join(",")]) {
      expect(() => loadEnv({ WEBHOOK_RETRY_SCHEDULE: bad })).toThrow("WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of seconds");
    }
  });
});

describe("signature header", () => {
  const body = JSON.stringify({ type: "booking.confirmed", timestamp: "2026-12-07T18:00:00.000Z", data: { booking_id: 1 } });
  const at = new Date("2026-12-07T18:00:05.900Z");
  const headersFor = (signature: string) => ({ "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature });
  const verifies = (secret: string, signature: string) => {
    try {
      // the library checks the timestamp against its clock: verify as of `at`
      const realNow = Date.now;
      Date.now = () => at.getTime();
      try {
        new Webhook(secret).verify(body, headersFor(signature));
      } finally {
        Date.now = realNow;
      }
      return true;
    } catch {
      return false;
    }
  };

  test("one secret: one v1 signature the receiver verifies; another secret does not", () => {
    const secret = newSecret();
    const header = signatureHeader({ secret, previousSecret: null, previousSecretUntil: null }, "msg_1", at, body);
    expect(header).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifies(secret, header)).toBe(true);
    expect(verifies(newSecret(), header)).toBe(false);
  });

  test("rotation: both secrets sign until previous_secret_until, the current one alone after", () => {
    const [secret, previousSecret] = [newSecret(), newSecret()];
    const during = { secret, previousSecret, previousSecretUntil: new Date(at.getTime() + 1000) };
    const header = signatureHeader(during, "msg_1", at, body);
    expect(header.split(" ")).toHaveLength(2);
    expect(verifies(secret, header)).toBe(true);
    expect(verifies(previousSecret, header)).toBe(true);
    const after = { ...during, previousSecretUntil: new Date(at.getTime() - 1) };
    expect(signingSecrets(after, at)).toEqual([secret]);
    expect(verifies(previousSecret, signatureHeader(after, "msg_1", at, body))).toBe(false);
  });
});
