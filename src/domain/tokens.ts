// Tokens are opaque, URL-safe and signed: base64url of
//   ticket type id (4 bytes, big-endian) | token id (16 bytes, UUIDv7) | HMAC-SHA256 (first 16 bytes)
// so a token names its ticket type, cannot be guessed or forged, and cannot be moved to another
// ticket type. Redis keys use only the token id, and only after the signature checked out.
import { timingSafeEqual } from "node:crypto";

const ID_BYTES = 16;
const MAC_BYTES = 16;
const TOKEN_BYTES = 4 + ID_BYTES + MAC_BYTES;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{48}$/;

export type TokenParts = { ticketTypeId: number; id: string };

export type Tokens = {
  /** A fresh token for a ticket type. */
  issue(ticketTypeId: number): TokenParts & { token: string };
  /** The token of a known id (deterministic: the same id always signs to the same token). */
  sign(ticketTypeId: number, id: string): string;
  /** The parts of a genuine token, or null for anything tampered, foreign or malformed. */
  verify(token: unknown): TokenParts | null;
};

export function createTokens(secret: string): Tokens {
  // The keyed hasher is set up once; copying it skips the key schedule on every token.
  const keyed = new Bun.CryptoHasher("sha256", secret);
  // One token's bytes at a time (JavaScript runs one call at a time), with fixed views on them:
  // a token costs a hasher copy and its strings, no buffers (this runs on every join).
  const bytes = Buffer.alloc(TOKEN_BYTES);
  const payload = bytes.subarray(0, 4 + ID_BYTES);
  const sent = bytes.subarray(4 + ID_BYTES);
  const digest = Buffer.alloc(64); // Bun's digest(into) asks for room for any hash
  const macOfPayload = digest.subarray(0, MAC_BYTES);
  const computeMac = () => void keyed.copy().update(payload).digest(digest);

  /** The token of the payload in `bytes`. */
  const sealed = () => {
    computeMac();
    sent.set(macOfPayload);
    return bytes.toString("base64url");
  };

  const sign = (ticketTypeId: number, id: string) => {
    bytes.writeUInt32BE(ticketTypeId, 0);
    bytes.write(id, 4, ID_BYTES, "base64url");
    return sealed();
  };

  return {
    issue(ticketTypeId) {
      const uuid = newTokenId();
      bytes.writeUInt32BE(ticketTypeId, 0);
      bytes.set(uuid, 4);
      return { ticketTypeId, id: uuid.toString("base64url"), token: sealed() };
    },
    sign,
    verify(token) {
      if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) return null;
      if (bytes.write(token, 0, TOKEN_BYTES, "base64url") !== TOKEN_BYTES) return null;
      computeMac();
      if (!timingSafeEqual(macOfPayload, sent)) return null;
      const ticketTypeId = bytes.readUInt32BE(0);
      if (ticketTypeId < 1 || ticketTypeId > 2 ** 31 - 1) return null;
      return { ticketTypeId, id: bytes.toString("base64url", 4, 4 + ID_BYTES) };
    },
  };
}

// A token id is a UUIDv7: time first, then random bits. Tokens of one ticket type issued
// close together then sort close together, so PostgreSQL adds a batch of holds to a few hot
// pages of the token index instead of 2000 random ones (about a quarter of a grant's cost;
// bench/ measures it). The id stays unguessable where it matters: a token without its MAC is
// refused, and the MAC needs the secret.
const newTokenId = () => Bun.randomUUIDv7("buffer");

/** The token id inside a token read back from our own database (already trusted). */
export function tokenIdOf(token: string): string {
  return Buffer.from(token, "base64url").subarray(4, 4 + ID_BYTES).toString("base64url");
}
