// One batch for one ticket type: claim (Redis) -> grant (PostgreSQL) -> settle (Redis).
// Three round trips however many people the batch holds. Whatever happens between the steps,
// the claimed tokens stay recorded in flight until settle, and recovery finishes the job.
import type { Sql } from "../db";
import type { Keys, RedisClient } from "../redis";
import type { Services } from "../services";
import type { Tokens } from "../tokens";
import { claimBatch, type Person } from "./claim";
import { availability, grantHolds, type Grant } from "./grant";
import { settleBatch, type Outcome } from "./settle";

export type Step = "claimed" | "granted" | "settled";

export type BatchContext = {
  sql: Sql;
  redis: RedisClient;
  tokens: Tokens;
  keys: (ticketTypeId: number) => Keys;
  holdSeconds: number;
  batchSize: number;
  /** Test-only: called after each step; a throw there is a crash at that point. */
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
  };
}

export type BatchResult =
  | { kind: "busy" }
  | { kind: "empty" }
  | {
      kind: "done";
      people: number;
      granted: number;
      /** The new head of the queue needs more than the stock left: wait until stock moves. */
      blocked: boolean;
      stockLeft: number | null;
    };

export async function processBatch(
  ctx: BatchContext, ticketTypeId: number, rate: number | null = null,
): Promise<BatchResult> {
  const k = ctx.keys(ticketTypeId);
  const claim = await claimBatch(ctx.redis, k, ticketTypeId, ctx.batchSize, ctx.holdSeconds);
  if (claim.kind !== "claimed") return claim;
  await ctx.after?.("claimed", ticketTypeId);
  if (claim.people.length === 0) return { kind: "done", people: 0, granted: 0, blocked: false, stockLeft: null };

  const people = claim.people;
  const grant = await grantHolds(
    ctx.sql, ticketTypeId, claim.epoch,
    people.map((p) => ({ ...p, token: ctx.tokens.sign(ticketTypeId, p.id) })),
    ctx.holdSeconds,
  );
  await ctx.after?.("granted", ticketTypeId);

  const waiting = grant.rows.some((r) => r.outcome === "waiting");
  const available = waiting ? await availability(ctx.sql, ticketTypeId) : null;
  const outcomes = decide(people, grant, available);
  await settleBatch(ctx.redis, k, ticketTypeId, outcomes, servedMark(people, outcomes), rate);
  await ctx.after?.("settled", ticketTypeId);

  const granted = outcomes.filter((o) => o.state === "reserved").length;
  const head = people.find((_, i) => outcomes[i]!.state === "queued");
  const stockLeft = available?.stock ?? grant.stockLeft;
  const blocked = head !== undefined && head.quantity > (stockLeft ?? 0);
  return { kind: "done", people: people.length, granted, blocked, stockLeft };
}

/**
 * What each person gets. Someone not served waits at the head of the queue while the tickets
 * they asked for could still come back (stock + outstanding holds cover them); otherwise
 * nobody can ever serve them and they are told it is sold out.
 */
export function decide(
  people: Person[], grant: Grant, available: { stock: number; held: number } | null,
): Outcome[] {
  return people.map((person, i): Outcome => {
    const row = grant.rows[i]!;
    const expiresAt = row.expires_at?.getTime();
    switch (row.outcome) {
      case "granted":
        return { id: person.id, state: "reserved", expiresAt };
      case "prior":
        return row.prior_status === "held"
          ? { id: person.id, state: "reserved", expiresAt }
          : { id: person.id, state: row.prior_status! };
      case "duplicate":
        return { id: person.id, state: "duplicate" };
      case "waiting": {
        const servable = available !== null && person.quantity <= available.stock + available.held;
        return { id: person.id, state: servable ? "queued" : "sold_out" };
      }
    }
  });
}

/** The last place that is done with: everyone before the first person sent back, or the whole batch. */
function servedMark(people: Person[], outcomes: Outcome[]): number {
  const back = people.filter((_, i) => outcomes[i]!.state === "queued");
  if (back.length > 0) return Math.min(...back.map((p) => p.place)) - 1;
  return Math.max(...people.map((p) => p.place));
}
