// One attempt: POST the stored body, signed, to the endpoint's URL. A 2xx delivers it; anything
// else is a failed attempt: another status (a 3xx too: redirects are not followed, a receiver
// that moved says so by failing), no answer within the timeout, no connection. The answer's
// body is never read (cancelled): a receiver cannot make the sender hold megabytes.
import type { Claimed } from "./outbox";
import { signatureHeader } from "./signer";

export type Attempt = { delivered: boolean; statusCode: number | null; error: string | null; seconds: number };

/** `stop`: the worker shutting down; the attempt is then abandoned (its lease lapses, it is tried again). */
export async function postDelivery(d: Claimed, timeoutMs: number, stop: AbortSignal): Promise<Attempt> {
  const at = new Date();
  const headers = {
    "content-type": "application/json",
    "user-agent": "ticket-queue-webhooks",
    "webhook-id": d.messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signatureHeader(d, d.messageId, at, d.body),
  };
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(d.url, { method: "POST", headers, body: d.body, redirect: "manual", signal: AbortSignal.any([timeout, stop]) });
    await res.body?.cancel().catch(() => {});
    const delivered = res.status >= 200 && res.status < 300;
    const error = delivered ? null : res.status >= 300 && res.status < 400 ? `redirect (${res.status}) not followed` : `answered ${res.status}`;
    return { delivered, statusCode: res.status, error, seconds: seconds() };
  } catch (err) {
    const error = timeout.aborted ? `no answer within ${timeoutMs} ms` : shortError(err);
    return { delivered: false, statusCode: null, error, seconds: seconds() };
  }
}

function shortError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return (e.code ? `${e.code}: ` : "") + (e.message ?? String(err)).slice(0, 150);
}
