// Serving one ticket type: batches of claim (Redis) -> grant (PostgreSQL) -> settle (Redis),
// overlapped. Up to AHEAD batches are claimed ahead while PostgreSQL grants the current one,
// and settles are sent as soon as their grant is done. Claims are sent one at a time and
// grants run one at a time, both in queue order, and Redis runs the settles in the order they
// were sent, so holds still go out in join order. Whatever happens between the steps, a
// claimed batch stays recorded in flight until it is settled, and recovery finishes it.
import { crashPoint } from "../crash-points";
import type { Sql } from "../db";
import type { Keys, RedisClient } from "../redis";
import type { Services } from "../services";
import type { Tokens } from "../tokens";
import { claimBatch, lastPlace, peopleOf, type Claimed, type Person } from "./claim";
import { availability, grantHolds, type Grant, type GrantRow } from "./grant";
import { allReserved, encode, settleBatch, type Decision, type Outcome } from "./settle";

export type Step = "claimed" | "granted" | "settled";

export type BatchContext = {
  sql: Sql;
  redis: RedisClient;
  tokens: Tokens;
  keys: (ticketTypeId: number) => Keys;
  holdSeconds: number;
  batchSize: number;
  /** Called after each step of a batch: where tests (a throw) and the fault suite (crash-points.ts) crash. */
  after?: (step: Step, ticketTypeId: number) => void | Promise<void>;
};

/** The batch context of a running service: its clients and the configured hold and batch sizes. */
export function batchContextOf(s: Services): BatchContext {
  return {
    sql: s.sql,
    redis: s.redis,
    tokens: s.tokens,
    keys: s.keys,
    holdSeconds: s.config.RESERVATION_TTL_SECONDS,
    batchSize: s.config.PROCESSOR_BATCH_SIZE,
    after: (step) => crashPoint(`process:${step}`),
  };
}

export type ServeResult =
  | { kind: "busy" }
  | { kind: "empty" }
  | {
      kind: "done";
      /** The turn's counts: batches served, people in them, holds granted (for the log too). */
      batches: number;
      people: number;
      granted: number;
      /** People put back at the head of the queue (stock ran short), and people told it is sold out. */
      requeued: number;
      soldOut: number;
      /** People refused whatever the stock: a malformed record, or over the user's limit. */
      invalid: number;
      overLimit: number;
      /** The new head of the queue needs more than the stock left: wait until stock moves. */
      blocked: boolean;
      stockLeft: number | null;
    };

/** Batches claimed ahead of the one being granted. */
const AHEAD = 2;

/**
 * Serves a ticket type batch after batch until `turnOver()` says other types get a turn, or
 * until its queue is empty or its head has to wait for stock. `firstBatch` sizes the first
 * claim: a probe of one person rechecks a type whose head was waiting, without taking a whole
 * batch off the queue and putting it back (which holds Redis up for everyone else).
 */
export async function serveTicketType(
  ctx: BatchContext, ticketTypeId: number, rate: number | null, turnOver: () => boolean, firstBatch = ctx.batchSize,
): Promise<ServeResult> {
  const k = ctx.keys(ticketTypeId);
  const first = await claimBatch(ctx.redis, k, firstBatch);
  if (first.kind !== "claimed") return first;
  await ctx.after?.("claimed", ticketTypeId);

  // Our batches in flight as Redis will see them when the next command runs: claims add one
  // (when they took someone), settles sent take one away.
  const owned = new Set<string>();
  if (first.size > 0) owned.add(first.batchId);
  let more = first.popped === firstBatch; // the queue may hold more (the last claim was full)
  let stopped = false; // no more claims ahead, whatever a claim in flight finds
  const ready: Claimed[] = [first];
  let claiming: Promise<unknown> | null = null;
  const claimAhead = () => {
    if (stopped || claiming || !more || ready.length >= AHEAD || turnOver()) return;
    claiming = claimBatch(ctx.redis, k, ctx.batchSize, owned).then(async (next) => {
      more = next.kind === "claimed" && next.popped === ctx.batchSize;
      if (next.kind === "claimed") {
        if (next.size > 0) owned.add(next.batchId);
        ready.push(next);
        await ctx.after?.("claimed", ticketTypeId);
      }
      claiming = null;
      claimAhead();
    });
    claiming.catch(() => {}); // observed where it is awaited
  };

  let settled: Promise<unknown> = Promise.resolve();
  const settle = (batch: Claimed, decision: Decision, served: number) => {
    const sent = settleBatch(ctx.redis, k, batch.batchId, decision, { served, rate });
    owned.delete(batch.batchId);
    settled = Promise.all([settled, sent]).then(() => ctx.after?.("settled", ticketTypeId));
    settled.catch(() => {}); // observed now; awaited (and rethrown) before returning
    return settled;
  };

  const total = { batches: 0, people: 0, granted: 0, requeued: 0, soldOut: 0, invalid: 0, overLimit: 0 };
  const count = (outcomes: Outcome[]) => {
    for (const o of outcomes) {
      if (o.state === "queued") total.requeued++;
      else if (o.state === "sold_out") total.soldOut++;
      else if (o.state === "invalid") total.invalid++;
      else if (o.state === "limit_reached") total.overLimit++;
    }
  };
  let stockLeft: number | null = null;
  try {
    for (;;) {
      claimAhead();
      while (ready.length === 0 && claiming) await claiming; // a finished claim may have started the next
      const current = ready.shift();
      if (!current) break;
      claimAhead();
      total.people += current.size;
      if (current.size === 0) continue; // everyone popped had left the queue: nothing to settle
      total.batches++;

      const granted = await grantHolds(ctx.sql, ticketTypeId, current.epoch, current.lines, ctx.holdSeconds);
      await ctx.after?.("granted", ticketTypeId);
      stockLeft = granted.stockLeft;
      total.granted += granted.granted;
      if (granted.rows === null && granted.refused.size === 0 && granted.granted === current.size) {
        settle(current, allReserved(current.size, granted.expiresAt!.getTime()), lastPlace(current));
        continue;
      }

      // Not everyone holds: the rare path, person by person.
      const people = peopleOf(current);
      const rows = granted.rows ?? prefixRows(granted, current.size);
      if (!rows.some((r) => r.outcome === "waiting")) {
        const outcomes = decide(people, rows, null);
        count(outcomes);
        settle(current, encode(outcomes), servedMark(people, outcomes));
        continue;
      }
      // Stock ran short. The batches claimed ahead go back first, newest first, so that this
      // one's unserved end up in front of them at the head of the queue, in join order.
      stopped = true;
      if (claiming) await claiming;
      for (const ahead of ready.splice(0).reverse()) {
        total.requeued += ahead.size;
        if (ahead.size > 0) settle(ahead, { codes: "Q".repeat(ahead.size), deadline: null, overrides: [] }, 0);
      }
      const available = await availability(ctx.sql, ticketTypeId);
      const outcomes = decide(people, rows, available);
      count(outcomes);
      settle(current, encode(outcomes), servedMark(people, outcomes));
      await settled;
      const head = people.find((_, i) => outcomes[i]!.state === "queued");
      stockLeft = available?.stock ?? null;
      return { kind: "done", ...total, blocked: head !== undefined && head.quantity > (stockLeft ?? 0), stockLeft };
    }
    await settled;
    return { kind: "done", ...total, blocked: false, stockLeft };
  } catch (err) {
    stopped = true;
    await Promise.allSettled([claiming, settled]); // what was sent runs anyway; let it finish first
    throw err;
  }
}

/** A fast-path grant, person by person: the refused as listed, the first `granted` of the rest hold, the others wait. */
export function prefixRows(grant: Grant, size: number): GrantRow[] {
  let held = 0;
  return Array.from({ length: size }, (_, i): GrantRow => {
    const refusal = grant.refused.get(i + 1);
    if (refusal) return { outcome: refusal, expires_at: null, prior_status: null };
    const granted = held++ < grant.granted;
    return { outcome: granted ? "granted" : "waiting", expires_at: granted ? grant.expiresAt : null, prior_status: null };
  });
}

/**
 * What each person gets. Someone not served waits at the head of the queue while the tickets
 * they asked for could still come back (stock + outstanding holds cover them); otherwise
 * nobody can ever serve them and they are told it is sold out.
 */
export function decide(
  people: Person[], rows: GrantRow[], available: { stock: number; held: number } | null,
): Outcome[] {
  return people.map((person, i): Outcome => {
    const row = rows[i]!;
    const expiresAt = row.expires_at?.getTime();
    switch (row.outcome) {
      case "granted":
        return { state: "reserved", expiresAt };
      case "prior":
        return row.prior_status === "held" ? { state: "reserved", expiresAt } : { state: row.prior_status! };
      case "duplicate":
        return { state: "duplicate" };
      case "invalid":
        return { state: "invalid" };
      case "limit":
        return { state: "limit_reached" };
      case "waiting": {
        const servable = available !== null && person.quantity <= available.stock + available.held;
        return { state: servable ? "queued" : "sold_out" };
      }
    }
  });
}

/** The last place that is done with: everyone before the first person sent back, or the whole batch. */
function servedMark(people: Person[], outcomes: Outcome[]): number {
  let last = 0;
  for (let i = 0; i < people.length; i++) {
    if (outcomes[i]!.state === "queued") return people[i]!.place - 1;
    // a malformed record's place may be anything: it marks nothing
    if (Number.isSafeInteger(people[i]!.place)) last = Math.max(last, people[i]!.place);
  }
  return last;
}
