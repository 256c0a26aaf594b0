// The hand-off's keys: an Ed25519 private key signs (CHECKOUT_SIGNING_KEY), and the public
// halves of it and of the previous key (CHECKOUT_SIGNING_KEY_PREVIOUS) are published as a JWK Set.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";

// environment variables often carry a PEM's line breaks as a literal \n
const pemOf = (text: string) => text.replaceAll("\\n", "\n");

/** The private key of an Ed25519 PKCS#8 PEM, or null. */
export const checkoutSigningKey = (pem: string): KeyObject | null => ed25519(() => createPrivateKey(pemOf(pem)));

/** The public key of an Ed25519 PEM, private or public, or null. */
export const checkoutVerifyingKey = (pem: string): KeyObject | null => ed25519(() => createPublicKey(pemOf(pem)));

/** The key `read` makes, if it reads one and it is Ed25519; else null. */
function ed25519(read: () => KeyObject): KeyObject | null {
  try {
    const key = read();
    return key.asymmetricKeyType === "ed25519" ? key : null;
  } catch {
    return null;
  }
}

export type PublishedKey = JWK & { kid: string };

/** A public key as a JWK, named by its RFC 7638 thumbprint: the same key always has the same kid. */
export async function publishedKey(publicKey: KeyObject): Promise<PublishedKey> {
  const jwk = publicKey.export({ format: "jwk" }) as JWK;
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: "EdDSA", use: "sig" };
}
