// The one model of a token's life (src/domain/states.ts) against the Lua scripts that move tokens:
// every state a script writes or compares is one of its states, settle-4.lua's codes are its
// codes, join-3.lua's live places are its live states. A script that learns a new word fails here.
// The moves between states (ARCHITECTURE.md's table) are kept here, checked against the states.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CONFIRM_REFUSALS, LIVE_STATES, RELEASE_REFUSALS, SETTLE_CODES, STATUS_MESSAGES, TOKEN_STATES, type TokenState,
} from "../src/domain/states";

/** Who may move a token, from which states to which. */
const TRANSITIONS: ReadonlyArray<{ from: readonly TokenState[]; to: TokenState; by: string }> = [
  { from: [], to: "queued", by: "join (join-3.lua)" },
  { from: [], to: "waiting_for_sale", by: "join inside the pre-queue window before the sale starts (join-3.lua)" },
  { from: ["waiting_for_sale"], to: "queued", by: "the sale's start: the pre-queue shuffled into the queue, once" },
  { from: ["waiting_for_sale"], to: "released", by: "release (leaves the pre-queue)" },
  { from: ["queued"], to: "pending", by: "the processor's claim (claim-3.lua)" },
  { from: ["pending"], to: "reserved", by: "the processor's grant (PostgreSQL), then settle-4.lua" },
  { from: ["pending"], to: "queued", by: "settle-4.lua: the stock ran short; back to the head, in order" },
  { from: ["pending"], to: "sold_out", by: "settle-4.lua: stock and holds can never cover it" },
  { from: ["pending"], to: "duplicate", by: "settle-4.lua: PostgreSQL found the user's live hold" },
  { from: ["pending"], to: "invalid", by: "settle-4.lua: the record was malformed" },
  { from: ["pending"], to: "limit_reached", by: "settle-4.lua: PostgreSQL counted the user's bookings" },
  { from: ["queued"], to: "released", by: "release (leave-1.lua)" },
  { from: ["reserved"], to: "confirmed", by: "confirm (PostgreSQL, then finish-2.lua)" },
  { from: ["reserved"], to: "released", by: "release (PostgreSQL, then finish-2.lua)" },
  { from: ["reserved"], to: "expired", by: "the cleaner (PostgreSQL, then finish-2.lua)" },
  { from: ["confirmed"], to: "cancelled", by: "cancel, by the shop or the operator (PostgreSQL, then cancel-2.lua)" },
  { from: ["waiting_for_sale", "queued", "pending"], to: "lost", by: "Redis losing its data (nobody writes it)" },
];

const luaDir = join(import.meta.dir, "..", "lua");
const scripts = [
  ...readdirSync(luaDir).filter((f) => f.endsWith(".lua")).map((f) => join(luaDir, f)),
  ...readdirSync(join(luaDir, "includes")).map((f) => join(luaDir, "includes", f)),
].map((path) => ({ path, text: readFileSync(path, "utf8") }));
const source = (name: string) => scripts.find((s) => s.path.endsWith(`/${name}`))!.text;
const isState = (word: string) => (TOKEN_STATES as readonly string[]).includes(word);

/** Every state word a script writes into a record or compares a state with. */
function stateWords(lua: string): string[] {
  const words: string[] = [];
  for (const m of lua.matchAll(/'HSET', [^,]+, 'state', '(\w+)'/g)) words.push(m[1]!); // written into a record
  for (const m of lua.matchAll(/(?:state|current|found\[\d\])\s*[~=]=\s*'(\w+)'/g)) words.push(m[1]!);
  // claim-3.lua's busy and empty, join-3.lua's prequeued: what a call did, not a token's state
  const replies = ["busy", "empty", "prequeued"];
  for (const m of lua.matchAll(/^\s*return '(\w+)'/gm)) if (!replies.includes(m[1]!)) words.push(m[1]!);
  return words;
}

describe("the Lua scripts speak src/domain/states.ts", () => {
  test("every state a script writes, compares or returns is a token state", () => {
    const found = scripts.flatMap((s) => stateWords(s.text).map((word) => ({ script: s.path.split("/").pop(), word })));
    expect(found.length).toBeGreaterThan(10); // the patterns do find the scripts' states
    expect(found.filter((f) => !isState(f.word))).toEqual([]);
  });

  test("settle-4.lua's final codes are SETTLE_CODES, and Q and R mean queued and reserved", () => {
    const table = source("settle-4.lua").match(/local FINAL = \{([^}]*)\}/)![1]!;
    const final = Object.fromEntries([...table.matchAll(/(\w) = '(\w+)'/g)].map((m) => [m[2], m[1]]));
    const expected = Object.fromEntries(Object.entries(SETTLE_CODES).filter(([state]) => state !== "reserved" && state !== "queued"));
    expect(final).toEqual(expected);
    expect(source("settle-4.lua")).toContain(`code == '${SETTLE_CODES.queued}'`);
    expect(source("settle-4.lua")).toContain(`'[^${SETTLE_CODES.reserved}]'`);
    expect(source("resolveState.lua")).toContain(`~= '${SETTLE_CODES.reserved}'`);
  });

  test("join-3.lua finds exactly the live states as a user's place", () => {
    const lua = source("join-3.lua");
    const live = new Set([...lua.matchAll(/state == '(\w+)'/g)].map((m) => m[1]));
    expect(live).toEqual(new Set(LIVE_STATES));
  });

  test("the checks can fail: a script with an unknown word is caught", () => {
    expect(stateWords("redis.call('HSET', record, 'state', 'teleported')").filter((w) => !isState(w))).toEqual(["teleported"]);
    expect(stateWords("if current == 'vanished' then").filter((w) => !isState(w))).toEqual(["vanished"]);
  });
});

describe("the model itself", () => {
  test("settle codes are one distinct character each", () => {
    const codes = Object.values(SETTLE_CODES);
    expect(codes.every((c) => c.length === 1)).toBe(true);
    expect(new Set(codes).size).toBe(codes.length);
  });

  test("every state but the first can be reached, and every move starts from a state", () => {
    const reached = new Set(TRANSITIONS.map((t) => t.to));
    expect(TOKEN_STATES.filter((s) => !reached.has(s))).toEqual([]);
    expect(TRANSITIONS.flatMap((t) => t.from).every(isState)).toBe(true);
    expect(TRANSITIONS.filter((t) => t.from.length === 0).map((t) => t.to)).toEqual(["queued", "waiting_for_sale"]);
  });

  test("final states are left by nobody; live states are; a booking only by its cancel", () => {
    const left = new Set(TRANSITIONS.flatMap((t) => t.from));
    const final: TokenState[] = ["cancelled", "expired", "released", "sold_out", "duplicate", "invalid", "limit_reached", "lost"];
    expect(final.filter((s) => left.has(s))).toEqual([]);
    expect(LIVE_STATES.every((s) => left.has(s))).toBe(true);
    expect(TRANSITIONS.filter((t) => t.from.includes("confirmed")).map((t) => t.to)).toEqual(["cancelled"]);
  });

  test("every state a client can see has a message, and confirm and release answer every other state", () => {
    expect(Object.keys(STATUS_MESSAGES).sort()).toEqual([...TOKEN_STATES.filter((s) => s !== "pending"), "paused"].sort());
    expect(Object.keys(CONFIRM_REFUSALS).sort()).toEqual(TOKEN_STATES.filter((s) => s !== "reserved" && s !== "confirmed").sort());
    expect(Object.keys(RELEASE_REFUSALS).sort()).toEqual(
      TOKEN_STATES.filter((s) => !["waiting_for_sale", "reserved", "queued", "released"].includes(s)).sort(),
    );
    // a token being served answers the same to both: try again shortly
    expect(CONFIRM_REFUSALS.pending).toEqual(RELEASE_REFUSALS.pending);
    expect(CONFIRM_REFUSALS.pending.retryAfter).toBe(true);
  });
});
