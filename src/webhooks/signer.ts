// The webhook-signature header (Standard Webhooks): one "v1,<base64>" per secret that signs,
// space-separated: the endpoint's secret, and its previous one until previous_secret_until
// (a rotation), so a receiver holding either verifies.
import { Webhook } from "standardwebhooks";

export type EndpointSecrets = {
  secret: string;
  previousSecret: string | null;
  /** When the previous secret stops signing (null: never set). */
  previousSecretUntil: Date | null;
};

// A Webhook decodes its secret when made: one per secret, reused (a few endpoints, thousands of sends).
const signers = new Map<string, Webhook>();
const MOST_SIGNERS = 1000;

function signerFor(secret: string): Webhook {
  let signer = signers.get(secret);
  if (!signer) {
    if (signers.size >= MOST_SIGNERS) signers.clear(); // rotated-away secrets do not pile up
    signer = new Webhook(secret);
    signers.set(secret, signer);
  }
  return signer;
}

/** The secrets that sign at `now`: the current one first. */
export function signingSecrets(endpoint: EndpointSecrets, now: Date): string[] {
  const previous = endpoint.previousSecret !== null && endpoint.previousSecretUntil !== null
    && endpoint.previousSecretUntil.getTime() > now.getTime();
  return previous ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
}

/** The header's value for one message sent at `at` (webhook-timestamp: `at` in whole seconds). */
export function signatureHeader(endpoint: EndpointSecrets, messageId: string, at: Date, body: string): string {
  return signingSecrets(endpoint, at).map((secret) => signerFor(secret).sign(messageId, at, body)).join(" ");
}
