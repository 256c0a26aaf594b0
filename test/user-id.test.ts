// User ids that would collide with another user's on the way to Redis are refused or made equal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { normalizeUserId } from "../src/queue/user-id";
import { createTestEnv, type TestEnv } from "./helpers";

// embeddings, overrides, isolates and the LRM/RLM/ALM marks: "\u202eabc" shows as "cba"
const BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"];

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

  test("bidirectional controls are refused: they make two ids look alike", () => {
    for (const c of BIDI) {
      expect(normalizeUserId(`ann${c}`)).toBeNull();
      expect(normalizeUserId(`${c}bob`)).toBeNull();
    }
    expect(normalizeUserId("\u0627\u0644\u0639\u0631\u0628\u064a\u0629")).not.toBeNull(); // right-to-left text itself is fine
    expect(normalizeUserId("a\u200db")).toBe("a\u200db"); // a zero-width joiner (emoji sequences) is not a bidi control
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

describe("POST /queue/join", () => {
  let env: TestEnv;
  beforeAll(async () => void (env = await createTestEnv()));
  afterAll(() => env?.close());

  test("a user id with a bidirectional control is 400 invalid_input and takes no place", async () => {
    const type = await env.ticketType({ capacity: 10 });
    for (const c of BIDI) {
      const res = await env.post("/queue/join", { user_id: `evil${c}`, ticket_type_id: type });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_input");
      expect(res.body.message).toStartWith("user_id: expected a non-empty string");
      expect(res.body.request_id).toBeString();
    }
    const spoof = await env.post("/queue/join", { user_id: "\u202emoc.elpmaxe@nna", ticket_type_id: type });
    expect(spoof.status).toBe(400);
    expect(await env.s.redis.llen(env.s.keys(type).queue)).toBe(0);
    expect(await env.s.redis.keys(`${env.config.REDIS_KEY_PREFIX}*`)).toEqual([]);
    // the same id without the control joins
    expect((await env.post("/queue/join", { user_id: "evil", ticket_type_id: type })).status).toBe(200);
  });
});
