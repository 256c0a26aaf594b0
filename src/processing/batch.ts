// Serving one ticket type: batches of claim (Redis) -> grant (PostgreSQL) -> settle (Redis),
// overlapped. Up to AHEAD batches are claimed ahead while PostgreSQL grants the current one,
// and settles are sent as soon as their grant is done. Claims are sent one at a time and
// grants run one at a time, both in queue order, and Redis runs the settles in the order they
// were sent, so holds still go out in join order. Whatever happens between the steps, a
// claimed batch stays recorded in flight until it is settled, and recovery finishes it.
//
// TurnPipeline below holds a turn's state and does its I/O in order; what it decides (claim
// ahead or not, what each person gets, the served mark, whether the head is blocked, the
// counts) are the pure functions after it.
import { crashPoint } from "../core/crash-points";
import { claimSize, roomAfterClaim } from "./admission";
import type { Sql } from "../store/db";
import type { Metrics } from "../metrics/metrics";
import type { Keys, KeysOf, RedisClient } from "../store/redis";
import type { Config } from "../config/config";
import type { Tokens } from "../domain/tokens";
import { claimBatch, peopleOf, type Claim, type Claimed } from "./claim";
import { availability, grantHolds, type Grant, type GrantRow, type SaleClosed } from "./grant";
import { allQueued, allReserved, decisionOf, lastPlaceOf, type Decision, type Outcome, type Person } from "../store/formats";

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
  /** Where holds granted and each step's time are counted (GET /metrics). */
  metrics?: Metrics;
};

/** The batch context of a running service: its clients and the configured hold and batch sizes. */
export function batchContextOf(s: { config: Config; sql: Sql; redis: RedisClient; tokens: Tokens; keys: KeysOf; metrics: Metrics }): BatchContext {
  return {
    sql: s.sql,
    redis: s.redis,
    tokens: s.tokens,
    keys: s.keys,
    holdSeconds: s.config.RESERVATION_TTL_SECONDS,
    batchSize: s.config.PROCESSOR_BATCH_SIZE,
    after: (step) => crashPoint(`process:${step}`),
    metrics: s.metrics,
  };
}

export type ServeResult =
  | { kind: "busy" }
  | { kind: "empty" }
  /** holds_per_minute allows nobody yet: try again in about `retryInMs`. */
  | { kind: "limited"; retryInMs: number }
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
      /** The grant served nobody: the sale is paused or has not started (PostgreSQL's word at the grant). */
      closed: SaleClosed | null;
      stockLeft: number | null;
    };

/** Batches claimed ahead of the one being granted. */
export const AHEAD = 2;

/** Told each batch's counts as it is settled (the processor logs them), with the stock left then. */
export type OnBatch = (counts: TurnCounts, stockLeft: number | null) => void;

export type TurnOptions = {
  /** Grants per second lately, written with each settle for the estimated waits (null leaves it). */
  rate: number | null;
  /** Whether the turn is over: other types get theirs. */
  turnOver: () => boolean;
  /** How many people the first claim asks for (a whole batch by default). */
  firstBatch?: number;
  onBatch?: OnBatch;
  /** Admission control: the most people this turn may claim (room left under max_active_holds; null: no ceiling). */
  room?: number | null;
  /** The type's holds_per_minute, for the claim's token bucket (null: none). */
  holdsPerMinute?: number | null;
};

/**
 * Serves a ticket type batch after batch until `turnOver()` says other types get a turn, or
 * until its queue is empty, its head has to wait for stock, or the turn has claimed all the
 * room admission control left it. `firstBatch` sizes the first claim: a probe of one person
 * rechecks a type whose head was waiting, without taking a whole batch off the queue and
 * putting it back (which holds Redis up for everyone else).
 */
export async function serveTicketType(ctx: BatchContext, ticketTypeId: number, options: TurnOptions): Promise<ServeResult> {
  const room = options.room ?? null;
  const firstSize = claimSize(options.firstBatch ?? ctx.batchSize, room);
  const holdsPerMinute = options.holdsPerMinute ?? null;
  const first = await claim(ctx, ctx.keys(ticketTypeId), firstSize, [], holdsPerMinute);
  if (first.kind !== "claimed") return first;
  await ctx.after?.("claimed", ticketTypeId);
  const turn = { rate: options.rate, turnOver: options.turnOver, onBatch: options.onBatch ?? (() => {}), room, holdsPerMinute };
  return new TurnPipeline(ctx, ticketTypeId, turn, first, firstSize).run();
}

/** What a turn's pipeline is told: the options, settled. */
type Turn = { rate: number | null; turnOver: () => boolean; onBatch: OnBatch; room: number | null; holdsPerMinute: number | null };

/**
 * One turn of a ticket type: claims run ahead of the grants, grants run one at a time, and each
 * settle is sent as soon as its grant is done. Every decision it takes is one of the pure
 * functions below; this class only does the I/O in the right order.
 */
class TurnPipeline {
  private readonly k: Keys;
  /** Batches claimed and not yet granted, in queue order: the one granted next first. */
  private readonly claimed: Claimed[] = [];
  /** The claim in flight (one at a time); it adds its batch to `claimed` and starts the next. */
  private claiming: Promise<void> | null = null;
  /**
   * Our batches in flight as Redis will see them when our next command runs: a claim that took
   * someone adds its batch, a settle sent takes it away. A claim refuses while any batch not
   * listed here is in flight (claim-3.lua), so it is sent along with each claim.
   */
  private readonly inFlight = new Set<string>();
  /** Why nothing more is claimed this turn; null while more may be. */
  private stop: StopReason | null;
  /** The settles sent, in order (Redis runs them in that order); resolves once all ran. */
  private settled: Promise<unknown> = Promise.resolve();
  private counts: TurnCounts = NO_COUNTS;
  /** The stock after the latest grant, or as read when stock ran short. */
  private stockLeft: number | null = null;
  /**
   * How many more people this turn may claim under max_active_holds (null: no ceiling):
   * the room left at the turn's start, less everyone claimed since, settled or not.
   */
  private room: number | null;

  constructor(
    private readonly ctx: BatchContext,
    private readonly ticketTypeId: number,
    private readonly turn: Turn,
    first: Claimed,
    firstSize: number,
  ) {
    this.k = ctx.keys(ticketTypeId);
    this.room = turn.room;
    this.stop = stopAfterClaim(null, first, firstSize);
    this.took(first);
  }

  async run(): Promise<ServeResult> {
    try {
      for (let batch = await this.next(); batch; batch = await this.next()) {
        const shortOf = await this.grant(batch);
        if (shortOf) return await this.endShort(shortOf);
      }
      await this.settled;
      return this.result(false, null);
    } catch (err) {
      this.stop = "failed";
      // What was sent runs anyway: let it finish first. What was claimed and not settled stays
      // in flight, and recovery finishes it.
      await Promise.allSettled([this.claiming, this.settled]);
      throw err;
    }
  }

  /** The next batch to grant, in queue order; null when the turn has none left. */
  private async next(): Promise<Claimed | null> {
    this.claimAhead();
    while (this.claimed.length === 0 && this.claiming) await this.claiming; // a finished claim may have started the next
    const batch = this.claimed.shift();
    if (!batch) return null;
    this.claimAhead();
    return batch;
  }

  private claimAhead(): void {
    const state = { claimedAhead: this.claimed.length, claiming: this.claiming !== null, stop: this.stop, turnOver: this.turn.turnOver() };
    if (!shouldClaimAhead(state)) return;
    const size = claimSize(this.ctx.batchSize, this.room);
    const claiming = claim(this.ctx, this.k, size, this.inFlight, this.turn.holdsPerMinute).then(async (claim) => {
      this.stop = stopAfterClaim(this.stop, claim, size);
      if (claim.kind === "claimed") {
        this.took(claim);
        await this.ctx.after?.("claimed", this.ticketTypeId);
      }
      this.claiming = null;
      this.claimAhead();
    });
    claiming.catch(() => {}); // observed where it is awaited
    this.claiming = claiming;
  }

  private took(claim: Claimed): void {
    if (claim.size > 0) this.inFlight.add(claim.batchId);
    this.claimed.push(claim);
    this.room = roomAfterClaim(this.room, claim.size);
    if (this.room === 0) this.stop ??= "no-room";
  }

  /**
   * Grants a batch and sends its settle, unless stock ran short: then it returns what the
   * settle needs, for endShort(), which ends the turn.
   */
  private async grant(batch: Claimed): Promise<ShortBatch | null> {
    if (batch.size === 0) return null; // everyone popped had left the queue: nothing to settle
    const started = performance.now();
    const grant = await grantHolds(this.ctx.sql, this.ticketTypeId, batch.epoch, batch.lines, this.ctx.holdSeconds);
    this.ctx.metrics?.grantSeconds.observe((performance.now() - started) / 1000);
    this.ctx.metrics?.holdsGranted.inc(this.ticketTypeId, grant.granted); // new hold rows only: a retry's are "prior"
    await this.ctx.after?.("granted", this.ticketTypeId);
    this.stockLeft = grant.stockLeft;
    if (allHold(grant, batch.size)) {
      this.count(batchCounts(batch.size, grant.granted, null));
      this.settle(batch, allReserved(batch.size, grant.expiresAt!.getTime()), lastPlaceOf(batch.lines));
      return null;
    }
    // Not everyone holds: the rare path, person by person.
    const people = peopleOf(batch);
    const rows = grant.rows ?? prefixRows(grant, batch.size);
    if (stockRanShort(rows)) return { batch, granted: grant.granted, people, rows, closed: grant.closed };
    const outcomes = decide(people, rows, null);
    this.count(batchCounts(batch.size, grant.granted, outcomes));
    this.settle(batch, decisionOf(outcomes), servedMark(people, outcomes));
    return null;
  }

  /**
   * Stock ran short in `short.batch`, or the sale is closed: the turn ends with it. The batches claimed ahead go back
   * first, newest first, so that this one's unserved end up in front of them at the head of
   * the queue, in join order. Then one reading of what is available decides who waits and who
   * is told sold out, and whether the new head is blocked (see availability()).
   */
  private async endShort({ batch, granted, people, rows, closed }: ShortBatch): Promise<ServeResult> {
    this.stop = "stock-short";
    if (this.claiming) await this.claiming;
    for (const ahead of this.claimed.splice(0).reverse()) {
      this.count(sentBackCounts(ahead.size));
      if (ahead.size > 0) this.settle(ahead, allQueued(ahead.size), 0);
    }
    // The grant said how much stock it left, not how much is held; and someone not served
    // waits only while stock + holds outstanding cover them (holds may come back), else they
    // are told sold out. Both figures come from this one reading, after the grant: a hold that
    // expired in between moved its tickets from held to stock, which a sum of two readings
    // could miss. The blocked flag and the turn's stock left use the same reading.
    const available = await availability(this.ctx.sql, this.ticketTypeId);
    const outcomes = decide(people, rows, available);
    this.stockLeft = available?.stock ?? null;
    this.count(batchCounts(batch.size, granted, outcomes));
    this.settle(batch, decisionOf(outcomes), servedMark(people, outcomes));
    await this.settled;
    return this.result(closed === null && headBlocked(people, outcomes, available), closed);
  }

  /** Sends a batch's settle after the ones sent before; from now on the batch is not ours in flight. */
  private settle(batch: Claimed, decision: Decision, served: number): void {
    const started = performance.now();
    const sent = this.ctx.redis.scripts.settle({ keys: this.k, batchId: batch.batchId, decision, served, rate: this.turn.rate });
    sent.then(() => this.ctx.metrics?.settleSeconds.observe((performance.now() - started) / 1000), () => {});
    this.inFlight.delete(batch.batchId);
    this.settled = Promise.all([this.settled, sent]).then(() => this.ctx.after?.("settled", this.ticketTypeId));
    this.settled.catch(() => {}); // observed now; awaited (and rethrown) before returning
  }

  private count(more: TurnCounts): void {
    this.counts = addCounts(this.counts, more);
    this.turn.onBatch(more, this.stockLeft);
  }

  private result(blocked: boolean, closed: SaleClosed | null): ServeResult {
    return { kind: "done", ...this.counts, blocked, closed, stockLeft: this.stockLeft };
  }
}

/** claimBatch, timed and its batch sized for the metrics. */
async function claim(
  ctx: BatchContext, k: Keys, size: number, owned: Iterable<string>, holdsPerMinute: number | null,
): Promise<Claim> {
  const started = performance.now();
  const claimed = await claimBatch(ctx.redis, k, size, owned, holdsPerMinute);
  ctx.metrics?.claimSeconds.observe((performance.now() - started) / 1000);
  if (claimed.kind === "claimed") ctx.metrics?.batchSize.observe(claimed.size);
  return claimed;
}

/** A granted batch in which someone waits for stock: what endShort() needs to settle it. */
type ShortBatch = { batch: Claimed; granted: number; people: Person[]; rows: GrantRow[]; closed: SaleClosed | null };

// The turn's decisions: pure functions of what the steps returned (test/pipeline.test.ts).

/** Why no more batches are claimed this turn. */
export type StopReason =
  /** The last claim took less than it asked (the queue ran out, or holds_per_minute), or was refused. */
  | "queue-short"
  /** Admission control: the turn claimed all the room max_active_holds left it. */
  | "no-room"
  /** Stock ran short: what was claimed ahead goes back, and nothing more is claimed. */
  | "stock-short"
  /** A step failed: what was sent finishes, what was claimed stays in flight for recovery. */
  | "failed";

/** What the decision to claim ahead looks at. */
export type ClaimState = {
  /** Batches claimed and not yet granted. */
  claimedAhead: number;
  /** Whether a claim is in flight. */
  claiming: boolean;
  stop: StopReason | null;
  /** Whether the type's turn is over (other types get theirs). */
  turnOver: boolean;
};

/** Whether to send another claim now: one at a time, at most AHEAD ahead, while more may come and the turn lasts. */
export function shouldClaimAhead(s: ClaimState): boolean {
  return s.stop === null && !s.claiming && s.claimedAhead < AHEAD && !s.turnOver;
}

/** The stop reason after a claim of `size`: only a full batch says the queue may hold more. */
export function stopAfterClaim(stop: StopReason | null, claim: Claim, size: number): StopReason | null {
  if (stop !== null) return stop;
  return claim.kind === "claimed" && claim.popped === size ? null : "queue-short";
}

/** Whether everyone in a batch of `size` holds: the common case, settled with no work per person. */
export function allHold(grant: Grant, size: number): boolean {
  return grant.rows === null && grant.refused.size === 0 && grant.granted === size;
}

/** Whether someone in the batch was not served for want of stock, or because the sale is closed. */
export function stockRanShort(rows: GrantRow[]): boolean {
  return rows.some((r) => r.outcome === "waiting" || r.outcome === "closed");
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
      case "invalid":
      case "limit_reached":
        return { state: row.outcome };
      case "closed": // paused, or not started: they keep their place, whatever the stock
        return { state: "queued" };
      case "waiting": {
        const servable = available !== null && person.quantity <= available.stock + available.held;
        return { state: servable ? "queued" : "sold_out" };
      }
    }
  });
}

/** The last place that is done with: everyone before the first person sent back, or the whole batch. */
export function servedMark(people: Person[], outcomes: Outcome[]): number {
  let last = 0;
  for (let i = 0; i < people.length; i++) {
    if (outcomes[i]!.state === "queued") return people[i]!.place - 1;
    // a malformed record's place may be anything: it marks nothing
    if (Number.isSafeInteger(people[i]!.place)) last = Math.max(last, people[i]!.place);
  }
  return last;
}

/**
 * Whether the new head of the queue (the first person sent back) asks for more than the stock
 * left: then it waits until stock moves, and nobody behind it is served before it.
 */
export function headBlocked(
  people: Person[], outcomes: Outcome[], available: { stock: number; held: number } | null,
): boolean {
  const head = people.find((_, i) => outcomes[i]!.state === "queued");
  return head !== undefined && head.quantity > (available?.stock ?? 0);
}

/** The turn's counts, as ServeResult reports them and the processor logs them. */
export type TurnCounts = Omit<Extract<ServeResult, { kind: "done" }>, "kind" | "blocked" | "closed" | "stockLeft">;

export const NO_COUNTS: TurnCounts = Object.freeze({
  batches: 0, people: 0, granted: 0, requeued: 0, soldOut: 0, invalid: 0, overLimit: 0,
});

/** What a granted batch adds: its people, its holds, and, on the rare path (`outcomes`), who got what else. */
export function batchCounts(size: number, granted: number, outcomes: Outcome[] | null): TurnCounts {
  const counts = { ...NO_COUNTS, batches: 1, people: size, granted };
  for (const o of outcomes ?? []) {
    if (o.state === "queued") counts.requeued++;
    else if (o.state === "sold_out") counts.soldOut++;
    else if (o.state === "invalid") counts.invalid++;
    else if (o.state === "limit_reached") counts.overLimit++;
  }
  return counts;
}

/** What a batch claimed ahead and sent back unserved adds: everyone requeued (not counted as served people). */
export function sentBackCounts(size: number): TurnCounts {
  return { ...NO_COUNTS, requeued: size };
}

export function addCounts(a: TurnCounts, b: TurnCounts): TurnCounts {
  return {
    batches: a.batches + b.batches, people: a.people + b.people, granted: a.granted + b.granted,
    requeued: a.requeued + b.requeued, soldOut: a.soldOut + b.soldOut, invalid: a.invalid + b.invalid,
    overLimit: a.overLimit + b.overLimit,
  };
}
