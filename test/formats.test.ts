// Each text format shared by TypeScript, Lua and SQL (src/store/formats.ts) survives a round trip,
// and decodes the odd cases the scripts produce. test/lua.test.ts checks the scripts' own texts.
import { describe, expect, test } from "bun:test";
import {
  batchLine, batchOutcome, claimReply, countLines, inflightEntry, joinReply, lastPlaceOf, lookupReply, MALFORMED_LINE,
  refusedList, screenLines, type JoinReply, type Lookup,
} from "../src/store/formats";

const token = "A".repeat(48);

describe("round trips", () => {
  test("batch line", () => {
    const person = { token, userId: "émilie@example.com", quantity: 3, place: 12345678901234 };
    expect(batchLine.decode(batchLine.encode(person))).toEqual(person);
    expect(batchLine.encode(person)).toBe(`${token}\témilie@example.com\t3\t12345678901234`);
  });

  test("batch outcome, with and without a shared deadline", () => {
    for (const o of [{ deadline: 1764571200000, codes: "RSQ", ids: ["a", "b", "c"] }, { deadline: null, codes: "QQ", ids: ["x", "y"] }]) {
      expect(batchOutcome.decode(batchOutcome.encode(o))).toEqual(o);
    }
    expect(batchOutcome.heldIds(batchOutcome.decode("5:RSRQ:a,b,c,d"))).toEqual(["a", "c"]);
  });

  test("in-flight entry", () => {
    const e = { claimedAt: 1764571200123, ids: ["id1", "id2"] };
    expect(inflightEntry.decode(inflightEntry.encode(e))).toEqual(e);
  });

  test("claim reply: busy, empty, limited, a batch, a batch of nobody", () => {
    const claimed = { kind: "claimed" as const, epoch: 17, popped: 2, size: 2, lines: `${token}\tu\t1\t1\n${token}\tv\t2\t2` };
    const nobody = { kind: "claimed" as const, epoch: 17, popped: 3, size: 0, lines: "" };
    const limited = { kind: "limited" as const, retryInMs: 37 };
    for (const r of [{ kind: "busy" as const }, { kind: "empty" as const }, limited, claimed, nobody]) {
      expect(claimReply.decode(claimReply.encode(r))).toEqual(r);
    }
  });

  test("join reply: each kind", () => {
    const replies: JoinReply[] = [
      { kind: "joined", id: "id1", place: 7, served: 2, quantity: 1, queueLength: 5 },
      { kind: "existing", id: "id2", state: "reserved", place: 3, served: 9, quantity: 2, expiresAt: 1764571200000 },
      { kind: "existing", id: "id3", state: "queued", place: 4, served: 1, quantity: 1, expiresAt: null },
      { kind: "existing", id: "id4", state: "waiting_for_sale", place: 0, served: 0, quantity: 3, expiresAt: null },
      { kind: "prequeued", id: "id5", served: 0, quantity: 2 },
      { kind: "limit", booked: 4 },
      { kind: "error", message: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    ];
    for (const r of replies) expect(joinReply.decode(joinReply.encode(r))).toEqual(r);
    // join-3.lua writes no place for a token waiting for the sale
    expect(joinReply.decode("existing\tid4\twaiting_for_sale\t\t0\t3\t\t0")).toEqual(replies[3]!);
  });

  test("lookup reply: known and unknown fields", () => {
    const lookups: Lookup[] = [
      { state: "reserved", quantity: 2, place: 10, expiresAt: 1764571200000, bookingId: null, served: 8, rate: 1234.5, bookingRef: null },
      { state: "confirmed", quantity: 1, place: 3, expiresAt: null, bookingId: 42, served: 3, rate: null, bookingRef: "7K3QX9M2TD" },
      { state: "cancelled", quantity: 1, place: 3, expiresAt: null, bookingId: 42, served: 3, rate: null, bookingRef: "7K3QX9M2TD" },
      { state: null, quantity: null, place: null, expiresAt: null, bookingId: null, served: 0, rate: null, bookingRef: null },
    ];
    for (const l of lookups) expect(lookupReply.decode(lookupReply.encode(l))).toEqual(l);
    expect(lookupReply.decode("teleported\t1\t1\t\t\t0\t").state).toBeNull(); // a word the model does not know
  });

  test("refused list", () => {
    const refused = new Map([[2, "invalid" as const], [5, "limit" as const]]);
    expect(refusedList.decode(refusedList.encode(refused))).toEqual(refused);
    expect(refusedList.encode(new Map())).toBeNull();
    expect(refusedList.decode(null)).toEqual(new Map());
  });
});

describe("helpers on batch lines", () => {
  test("screening keeps well-formed lines as they are and blanks each malformed one", () => {
    const good = `${token}\tu\t1\t1`;
    expect(screenLines(good)).toBe(good);
    expect(screenLines(`${good}\nshort\tu\t1\t2\n${token}\tu\t0\t3\n${token}\tu\x07\t1\t4`))
      .toBe([good, MALFORMED_LINE, MALFORMED_LINE, MALFORMED_LINE].join("\n"));
    expect(screenLines("")).toBe("");
  });

  test("counting lines and the last place", () => {
    expect(countLines("")).toBe(0);
    expect(countLines("a\nb\nc")).toBe(3);
    expect(lastPlaceOf(`${token}\tu\t1\t9\n${token}\tv\t1\t10`)).toBe(10);
    expect(lastPlaceOf(MALFORMED_LINE)).toBe(0);
  });
});
