// User ids that would collide with another user's on the way to Redis are refused or made equal.
import { describe, expect, test } from "bun:test";
import { normalizeUserId } from "../src/queue/user-id";

describe("normalizeUserId", () => {
  test("a number and its decimal string name the same user", () => {
    expect(normalizeUserId(7)).toBe("7");
    expect(normalizeUserId("7")).toBe("7");
    expect(normalizeUserId(0)).toBe("0");
    expect(normalizeUserId(-0)).toBe("0");
    expect(normalizeUserId(Number.MAX_SAFE_INTEGER)).toBe("9007199254740991");
    expect(normalizeUserId("07")).toBe("07"); // a different string: a different user
  });

  test("9007199254740993 vs 9007199254740992: both parse to one double, so numbers past 2^53 are refused", () => {
    const a = JSON.parse('{"u":9007199254740993}').u;
    const b = JSON.parse('{"u":9007199254740992}').u;
    expect(a).toBe(b); // the collision itself
    expect(normalizeUserId(a)).toBeNull();
    expect(normalizeUserId(b)).toBeNull();
    // as strings they stay two users
    expect(normalizeUserId("9007199254740993")).not.toBe(normalizeUserId("9007199254740992"));
  });

  test("1e23 vs 99999999999999999999999: refused as numbers, distinct as strings", () => {
    const a = JSON.parse('{"u":1e23}').u;
    const b = JSON.parse('{"u":99999999999999999999999}').u;
    expect(a).toBe(b);
    expect(normalizeUserId(a)).toBeNull();
    expect(normalizeUserId(b)).toBeNull();
    expect(normalizeUserId("1e23")).toBe("1e23");
    expect(normalizeUserId("99999999999999999999999")).toBe("99999999999999999999999");
  });

  test("a lone surrogate (UTF-8 would make it U+FFFD) is refused; U+FFFD itself is a user", () => {
    const lone = JSON.parse('"\\ud800"');
    expect(Buffer.from(lone).toString()).toBe("\ufffd"); // the collision itself
    expect(normalizeUserId(lone)).toBeNull();
    expect(normalizeUserId("a\udc00b")).toBeNull();
    expect(normalizeUserId("\ufffd")).toBe("\ufffd");
    expect(normalizeUserId("😀")).toBe("😀"); // a proper pair is fine
  });

  test('"\\n7" is not 7: control characters are refused (C0, DEL, C1)', () => {
    for (const bad of ["\n7", "7\n", "a\u0000b", "a\tb", "a\u007fb", "a\u0080b", "a\u009fb", "\r"]) {
      expect(normalizeUserId(bad)).toBeNull();
    }
    expect(normalizeUserId("a\u00a0b")).toBe("a\u00a0b"); // no-break space is not a control
  });

  test("composed and decomposed é are the same user after NFC", () => {
    const composed = "caf\u00e9";
    const decomposed = "cafe\u0301";
    expect(composed).not.toBe(decomposed);
    expect(normalizeUserId(decomposed)).toBe(composed);
    expect(normalizeUserId(composed)).toBe(composed);
  });

  test("length is 1..128 characters, counted after normalization", () => {
    expect(normalizeUserId("")).toBeNull();
    expect(normalizeUserId("x".repeat(128))).toBe("x".repeat(128));
    expect(normalizeUserId("x".repeat(129))).toBeNull();
    expect(normalizeUserId("😀".repeat(128))).not.toBeNull(); // 256 UTF-16 units, 128 characters
    expect(normalizeUserId("e\u0301".repeat(128))).toBe("\u00e9".repeat(128)); // 256 before NFC
  });

  test("other JSON values and odd numbers are refused", () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 1e300, null, undefined, true, {}, [], [7]]) {
      expect(normalizeUserId(bad)).toBeNull();
    }
  });
});
