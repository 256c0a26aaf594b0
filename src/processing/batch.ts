// Serving one ticket type: batches of claim (Redis) -> grant (PostgreSQL) -> settle (Redis),
// pipelined: while PostgreSQL grants batch N, Redis claims batch N+1 and settles batch N-1.
// Grants run one at a time in claim order, and settles are sent in claim order on the one
// Redis connection, so holds still go out in join order. Whatever happens between the steps,
// a claimed batch stays recorded in flight until it is settled, and recovery finishes it.
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
  /** Test-only: called after each step of a batch; a throw there is a crash at that point. */
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

export type ServeResult =
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

/**
 * Serves a ticket type batch after batch for about `budgetMs` (then other types get a turn),
 * or until its queue is empty or its head has to wait for stock.
 */
export async function serveTicketType(
  ctx: BatchContext, ticketTypeId: number, rate: number | null, budgetMs: number,
): Promise<ServeResult> {
  const k = ctx.keys(ticketTypeId);
  const until = Date.now() + budgetMs;
  const first = await claimBatch(ctx.redis, k, ticketTypeId, ctx.batchSize, ctx.holdSeconds, 0);
  if (first.kind !== "claimed") return first;
  await ctx.after?.("claimed", ticketTypeId);

  const settle = (batch: Claimed, decision: Decision, served: number) =>
    settleBatch(ctx.redis, k, ticketTypeId, batch.batchId, decision, { served, rate, holdSeconds: ctx.holdSeconds })
      .then(() => ctx.after?.("settled", ticketTypeId));

  const total = { people: 0, granted: 0 };
  let current: Claimed = first;
  let settling: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      total.people += current.size;
      const granting = current.size > 0
        ? grantHolds(ctx.sql, ticketTypeId, current.epoch, current.lines, ctx.holdSeconds)
        : Promise.resolve(null);
      // The next batch is claimed while PostgreSQL works, if the queue may hold more.
      const more = current.popped === ctx.batchSize && Date.now() < until;
      const owned = current.size > 0 ? 1 : 0;
      const claiming = more ? claimBatch(ctx.redis, k, ticketTypeId, ctx.batchSize, ctx.holdSeconds, owned) : null;
      const [granted, next] = await bothSettled(granting, claiming);
      if (granted) await ctx.after?.("granted", ticketTypeId);

      if (granted && !(granted.rows === null && granted.granted === current.size)) {
        // Not everyone holds: the rare path, person by person.
        const people = peopleOf(current);
        const rows = granted.rows ?? prefixRows(granted, current.size);
        if (rows.some((r) => r.outcome === "waiting")) {
          // Stock ran short: the batch claimed ahead goes back first, so this one's unserved
          // land in front of it at the head of the queue.
          if (next?.kind === "claimed" && next.size > 0) await settle(next, { codes: "Q".repeat(next.size), deadline: null, overrides: [] }, 0);
          await settling;
          const available = await availability(ctx.sql, ticketTypeId);
          const outcomes = decide(people, rows, available);
          await settle(current, encode(outcomes), servedMark(people, outcomes));
          total.granted += granted.granted;
          const head = people.find((_, i) => outcomes[i]!.state === "queued");
          const stockLeft = available?.stock ?? null;
          return { kind: "done", ...total, blocked: head !== undefined && head.quantity > (stockLeft ?? 0), stockLeft };
        }
        await settling;
        settling = settle(current, encode(decide(people, rows, null)), lastPlace(current));
      } else {
        await settling; // settles go out in claim order
        if (granted) settling = settle(current, allReserved(current.size, granted.expiresAt!.getTime()), lastPlace(current));
      }
      settling.catch(() => {}); // observed now; awaited (and rethrown) before the next settle
      total.granted += granted?.granted ?? 0;
      if (next?.kind !== "claimed") {
        await settling;
        return { kind: "done", ...total, blocked: false, stockLeft: granted?.stockLeft ?? null };
      }
      await ctx.after?.("claimed", ticketTypeId);
      current = next;
    }
  } catch (err) {
    await settling.catch(() => {}); // a settle already sent runs anyway; let it finish first
    throw err;
  }
}

/** A fast-path grant, person by person: the first `granted` hold, the rest wait. */
function prefixRows(grant: Grant, size: number): GrantRow[] {
  return Array.from({ length: size }, (_, i) => ({
    outcome: i < grant.granted ? "granted" : "waiting",
    expires_at: i < grant.granted ? grant.expiresAt : null,
    prior_status: null,
  }));
}

/** Waits for both, so neither is left running unobserved when the other fails. */
async function bothSettled<A, B>(a: Promise<A>, b: Promise<B> | null): Promise<[A, B | null]> {
  const [ra, rb] = await Promise.allSettled([a, b ?? Promise.resolve(null)]);
  if (ra.status === "rejected") throw ra.reason;
  if (rb.status === "rejected") throw rb.reason;
  return [ra.value, rb.value as B | null];
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
    last = Math.max(last, people[i]!.place);
  }
  return last;
}
