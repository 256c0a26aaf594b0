// The batch pipeline's decisions (src/processing/batch.ts), one by one: pure functions, so
// neither Redis nor PostgreSQL is needed here. How they play out together is in
// lifecycle.test.ts, crash.test.ts and logging.test.ts.
import { describe, expect, test } from "bun:test";
import {
  AHEAD, addCounts, allHold, batchCounts, decide, headBlocked, NO_COUNTS, prefixRows, sentBackCounts,
  servedMark, shouldClaimAhead, stockRanShort, stopAfterClaim, type ClaimState,
} from "../src/processing/batch";
import type { Claim } from "../src/processing/claim";
import { allQueued, type Outcome, type Person, type Refusals } from "../src/store/formats";
import type { Grant, GrantRow } from "../src/processing/grant";

const deadline = new Date("2030-01-01T00:00:00Z");
const person = (place: number, quantity = 1): Person => ({ token: `t${place}`, userId: `u${place}`, quantity, place });
const row = (outcome: GrantRow["outcome"], fields: Partial<GrantRow> = {}): GrantRow => ({
  outcome, expires_at: outcome === "granted" ? deadline : null, prior_status: null, ...fields,
});
const grant = (fields: Partial<Grant> = {}): Grant => ({
  rows: null, granted: 0, expiresAt: deadline, stockLeft: 0, refused: new Map(), closed: null, ...fields,
});
const states = (outcomes: Outcome[]) => outcomes.map((o) => o.state);

describe("shouldClaimAhead", () => {
  const start: ClaimState = { claimedAhead: 0, claiming: false, stop: null, turnOver: false };

  test("claims while fewer than AHEAD batches wait, none is being claimed, more may come and the turn lasts", () => {
    expect(shouldClaimAhead(start)).toBe(true);
    expect(shouldClaimAhead({ ...start, claimedAhead: AHEAD - 1 })).toBe(true);
  });

  test("at most AHEAD batches claimed ahead", () => {
    expect(AHEAD).toBe(2);
    expect(shouldClaimAhead({ ...start, claimedAhead: AHEAD })).toBe(false);
  });

  test("one claim at a time", () => {
    expect(shouldClaimAhead({ ...start, claiming: true })).toBe(false);
  });

  test("never once stopped, whatever the reason", () => {
    for (const stop of ["queue-short", "no-room", "stock-short", "failed"] as const) {
      expect(shouldClaimAhead({ ...start, stop })).toBe(false);
    }
  });

  test("not once the turn is over", () => {
    expect(shouldClaimAhead({ ...start, turnOver: true })).toBe(false);
  });
});

describe("stopAfterClaim", () => {
  const claimed = (popped: number, size = popped): Claim =>
    ({ kind: "claimed", batchId: "b", epoch: 1, popped, size, lines: "" });

  test("only a full claim says the queue may hold more", () => {
    expect(stopAfterClaim(null, claimed(20), 20)).toBeNull();
    expect(stopAfterClaim(null, claimed(20, 17), 20)).toBeNull(); // people who left still count as popped
    expect(stopAfterClaim(null, claimed(19), 20)).toBe("queue-short");
    expect(stopAfterClaim(null, claimed(0), 20)).toBe("queue-short");
  });

  test("a refused or empty claim stops the claims ahead", () => {
    expect(stopAfterClaim(null, { kind: "busy" }, 20)).toBe("queue-short");
    expect(stopAfterClaim(null, { kind: "empty" }, 20)).toBe("queue-short");
  });

  test("a reason already given stands, even after a full claim in flight", () => {
    expect(stopAfterClaim("stock-short", claimed(20), 20)).toBe("stock-short");
    expect(stopAfterClaim("failed", claimed(5), 20)).toBe("failed");
  });
});

describe("allHold and stockRanShort", () => {
  test("the fast path: the fast statement ran, nobody refused, everyone granted", () => {
    expect(allHold(grant({ granted: 3 }), 3)).toBe(true);
    expect(allHold(grant({ granted: 2 }), 3)).toBe(false);
    expect(allHold(grant({ granted: 2, refused: new Map([[2, "limit_reached"]]) }), 3)).toBe(false);
    expect(allHold(grant({ granted: 3, rows: [row("granted"), row("granted"), row("granted")] }), 3)).toBe(false);
  });

  test("stock ran short when someone waits", () => {
    expect(stockRanShort([row("granted"), row("invalid"), row("limit_reached"), row("duplicate"), row("prior")])).toBe(false);
    expect(stockRanShort([row("granted"), row("waiting")])).toBe(true);
    expect(stockRanShort([row("prior"), row("closed")])).toBe(true);
    expect(stockRanShort([])).toBe(false);
  });
});

describe("prefixRows", () => {
  test("without refusals: the first `granted` hold until the deadline, the rest wait", () => {
    expect(prefixRows(grant({ granted: 2 }), 4)).toEqual([row("granted"), row("granted"), row("waiting"), row("waiting")]);
  });

  test("the refused (1-based positions) are skipped when counting who holds", () => {
    const refused: Refusals = new Map([[1, "invalid"], [3, "limit_reached"]]);
    expect(prefixRows(grant({ granted: 2, refused }), 5)).toEqual([
      row("invalid"), row("granted"), row("limit_reached"), row("granted"), row("waiting"),
    ]);
  });

  test("nobody granted: everyone not refused waits", () => {
    const refused: Refusals = new Map([[2, "limit_reached"]]);
    expect(prefixRows(grant({ granted: 0, expiresAt: null, refused }), 3)).toEqual([
      row("waiting"), row("limit_reached"), row("waiting"),
    ]);
  });
});

describe("decide", () => {
  const at = deadline.getTime();

  test("a closed sale (paused, not started) keeps everyone queued whatever the stock; a prior hold stays held", () => {
    const earlier = new Date(at - 5000);
    const outcomes = decide(
      [person(1, 5), person(2), person(3)],
      [row("closed"), row("prior", { prior_status: "held", expires_at: earlier }), row("closed")],
      { stock: 0, held: 0 },
    );
    expect(outcomes).toEqual([{ state: "queued" }, { state: "reserved", expiresAt: earlier.getTime() }, { state: "queued" }]);
  });

  test("granted and a prior hold still held: reserved, with their own deadline", () => {
    const earlier = new Date(at - 5000);
    const outcomes = decide(
      [person(1), person(2)],
      [row("granted"), row("prior", { prior_status: "held", expires_at: earlier })],
      null,
    );
    expect(outcomes).toEqual([{ state: "reserved", expiresAt: at }, { state: "reserved", expiresAt: earlier.getTime() }]);
  });

  test("a prior hold that ended is told how it ended", () => {
    const ended = (["confirmed", "expired", "released"] as const).map((prior_status) => row("prior", { prior_status }));
    expect(decide([person(1), person(2), person(3)], ended, null)).toStrictEqual([
      { state: "confirmed" }, { state: "expired" }, { state: "released" },
    ]);
  });

  test("duplicate, invalid and over the limit are refused whatever the stock", () => {
    const rows = [row("duplicate"), row("invalid"), row("limit_reached")];
    const people = [person(1), person(2), person(3)];
    for (const available of [null, { stock: 100, held: 0 }]) {
      expect(states(decide(people, rows, available))).toEqual(["duplicate", "invalid", "limit_reached"]);
    }
  });

  test("someone waiting goes back to the queue while stock + holds outstanding cover them", () => {
    const people = [person(1, 3), person(2, 4), person(3, 5)];
    const rows = [row("waiting"), row("waiting"), row("waiting")];
    // 1 on sale, 3 held: 4 may still come; exactly covering counts
    expect(states(decide(people, rows, { stock: 1, held: 3 }))).toEqual(["queued", "queued", "sold_out"]);
    expect(states(decide(people, rows, { stock: 0, held: 0 }))).toEqual(["sold_out", "sold_out", "sold_out"]);
    expect(states(decide(people, rows, { stock: 5, held: 0 }))).toEqual(["queued", "queued", "queued"]);
  });

  test("without a reading of what is available (the type is gone) nobody waits", () => {
    expect(states(decide([person(1)], [row("waiting")], null))).toEqual(["sold_out"]);
  });
});

describe("servedMark", () => {
  const reserved: Outcome = { state: "reserved", expiresAt: 1 };

  test("everyone done with: the batch's last place", () => {
    expect(servedMark([person(7), person(8), person(9)], [reserved, { state: "invalid" }, { state: "sold_out" }])).toBe(9);
  });

  test("up to just before the first person sent back", () => {
    const people = [person(7), person(8), person(9)];
    expect(servedMark(people, [reserved, { state: "queued" }, reserved])).toBe(7);
    expect(servedMark(people, [{ state: "queued" }, { state: "queued" }, { state: "queued" }])).toBe(6);
  });

  test("a malformed record's place marks nothing", () => {
    const malformed = person(Number.NaN);
    expect(servedMark([person(7), malformed], [reserved, { state: "invalid" }])).toBe(7);
    expect(servedMark([malformed], [{ state: "invalid" }])).toBe(0);
    expect(servedMark([person(2 ** 60), person(4)], [{ state: "invalid" }, reserved])).toBe(4);
  });

  test("an empty batch marks nothing", () => {
    expect(servedMark([], [])).toBe(0);
  });
});

describe("headBlocked", () => {
  const people = [person(1, 2), person(2, 3), person(3, 1)];

  test("the first person sent back asks for more than the stock left: blocked", () => {
    const outcomes: Outcome[] = [{ state: "reserved", expiresAt: 1 }, { state: "queued" }, { state: "queued" }];
    expect(headBlocked(people, outcomes, { stock: 2, held: 5 })).toBe(true);
    // the head alone counts, not someone smaller behind it
    expect(headBlocked(people, outcomes, { stock: 3, held: 5 })).toBe(false);
  });

  test("nobody sent back: not blocked", () => {
    const outcomes: Outcome[] = [{ state: "reserved", expiresAt: 1 }, { state: "sold_out" }, { state: "limit_reached" }];
    expect(headBlocked(people, outcomes, { stock: 0, held: 0 })).toBe(false);
  });

  test("no reading counts as no stock", () => {
    expect(headBlocked([person(1)], [{ state: "queued" }], null)).toBe(true);
  });
});

describe("the turn's counts", () => {
  test("a batch where everyone holds: one batch, its people, its holds", () => {
    expect(batchCounts(20, 20, null)).toEqual({ ...NO_COUNTS, batches: 1, people: 20, granted: 20 });
  });

  test("the rare path counts who was sent back, sold out, invalid and over the limit", () => {
    const outcomes: Outcome[] = [
      { state: "reserved", expiresAt: 1 }, { state: "reserved", expiresAt: 2 }, // granted, and a prior hold
      { state: "queued" }, { state: "queued" }, { state: "sold_out" }, { state: "invalid" },
      { state: "limit_reached" }, { state: "duplicate" }, { state: "confirmed" },
    ];
    expect(batchCounts(9, 1, outcomes)).toEqual({
      batches: 1, people: 9, granted: 1, requeued: 2, soldOut: 1, invalid: 1, overLimit: 1,
    });
  });

  test("a batch claimed ahead and sent back counts only as requeued", () => {
    expect(sentBackCounts(20)).toEqual({ ...NO_COUNTS, requeued: 20 });
  });

  test("counts add up field by field", () => {
    const a = { batches: 1, people: 2, granted: 3, requeued: 4, soldOut: 5, invalid: 6, overLimit: 7 };
    expect(addCounts(a, a)).toEqual({ batches: 2, people: 4, granted: 6, requeued: 8, soldOut: 10, invalid: 12, overLimit: 14 });
    expect(addCounts(NO_COUNTS, a)).toEqual(a);
  });
});

test("allQueued sends a whole batch back with no deadline", () => {
  expect(allQueued(3)).toEqual({ codes: "QQQ", deadline: null, overrides: [] });
});
