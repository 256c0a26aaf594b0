import { describe, expect, test } from "bun:test";
import { createTokens, tokenIdOf } from "../src/domain/tokens";

const tokens = createTokens("a-secret-that-is-long-enough-0123456789");
const other = createTokens("another-secret-long-enough-9876543210xx");

describe("tokens", () => {
  test("are URL-safe, opaque and name their ticket type", () => {
    const issued = tokens.issue(7);
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(tokens.verify(issued.token)).toEqual({ ticketTypeId: 7, id: issued.id });
    expect(tokenIdOf(issued.token)).toBe(issued.id);
    expect(tokens.sign(7, issued.id)).toBe(issued.token);
    expect(tokens.issue(7).id).not.toBe(issued.id);
  });

  test("refuse every single-character change, another secret, and garbage", () => {
    const { token } = tokens.issue(2147483647);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < token.length; i++) {
      const swapped = alphabet[(alphabet.indexOf(token[i]!) + 1) % alphabet.length]!;
      const tampered = token.slice(0, i) + swapped + token.slice(i + 1);
      // the last character carries two padding bits base64url decoding ignores
      if (Buffer.from(tampered, "base64url").equals(Buffer.from(token, "base64url"))) continue;
      expect(tokens.verify(tampered)).toBeNull();
    }
    expect(other.verify(token)).toBeNull();
    for (const junk of ["", "x", "A".repeat(48), token + "A", 42, null, undefined, { token }]) {
      expect(tokens.verify(junk)).toBeNull();
    }
  });

  test("cannot be moved to another ticket type", () => {
    const { token } = tokens.issue(1);
    const bytes = Buffer.from(token, "base64url");
    bytes.writeUInt32BE(2, 0);
    expect(tokens.verify(bytes.toString("base64url"))).toBeNull();
  });
});
