// The public key of JOIN_JWT_PUBLIC_KEY and the one algorithm it may verify (a token naming
// another algorithm is refused, so an RSA key can never be used as an HMAC secret).
import { createPublicKey, type KeyObject } from "node:crypto";

export type JwtPublicKey = { key: KeyObject; alg: "RS256" | "ES256" };

/** The key and its algorithm, or null when the PEM is not an RSA or EC P-256 public key. */
export function jwtPublicKey(pem: string): JwtPublicKey | null {
  let key: KeyObject;
  try {
    // environment variables often carry the PEM's line breaks as a literal \n
    key = createPublicKey(pem.replaceAll("\\n", "\n"));
  } catch {
    return null;
  }
  if (key.asymmetricKeyType === "rsa") return { key, alg: "RS256" };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return { key, alg: "ES256" };
  return null;
}
