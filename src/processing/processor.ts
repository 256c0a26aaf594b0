// The processor loop: serves every ticket type that has people waiting, in turns, under a
// lease per type. Runs in a Bun Worker (src/threads/processor.ts) and,
// for tests, directly. What it decides (which types are served, when a turn is over, how long
// a type is left alone) are the pure functions of its state in schedule.ts; this class does
// the I/O.
import { runWithBackoff, type LoopHooks } from "../core/backoff";
import type { Logger } from "../core/log";
import { RECOVER_AFTER_MS } from "../domain/timing";
import { estimatedRate, heldCount, roomLeft, SaleControlsCache, type SaleControls } from "./admission";
import { serveTicketType, type BatchContext, type TurnCounts } from "./batch";
import { prequeuedKey } from "../store/redis";
import { Leases } from "./lease";
import { recoverInflight } from "./recover";
import { openStartedSales, repairSaleStarts } from "../sale-start/open-at-start";
import {
  BLOCKED_RETRY_MS, CLOSED_RETRY_MS, firstBatchSize, newProcessorState, nextRate, OTHERS_CHECK_MS, othersCanBeServed,
  rateHoldBackMs, recoverOlderThan, ROOM_RETRY_MS, sweepDue, turnIsOver, unblockDue, unblocked, waits,
} from "./schedule";

export type ProcessorOptions = {
  name: string;
  activeKey: string;
  log: Logger;
  /** Sleep between rounds when nobody is waiting; bounds how soon a new joiner is picked up. */
  idleMs?: number;
  /** A batch in flight this long without its processor is recovered (RECOVER_AFTER_MS by default). */
  recoverAfterMs?: number;
  /** How long a blocked type waits before it is retried though its stock did not move (BLOCKED_RETRY_MS). */
  blockedRetryMs?: number;
  /** The worker's heartbeat and failure count (src/threads/processor.ts). */
  hooks?: LoopHooks;
};

export class Processor {
  private readonly leases: Leases;
  /** Pause and admission control per type, as the operator set them (read every CONTROLS_MAX_AGE_MS). */
  private readonly controls: SaleControlsCache;
  /** What it remembers between rounds; its decisions are schedule.ts's pure functions of it. */
  private readonly state = newProcessorState();

  constructor(
    private readonly ctx: BatchContext,
    private readonly options: ProcessorOptions,
  ) {
    this.leases = new Leases(ctx.redis, ctx.keys, options.name);
    this.controls = new SaleControlsCache(ctx.sql);
  }

  /** One round over the waiting ticket types; returns how many people it handled. */
  async tick(signal?: AbortSignal): Promise<number> {
    const { redis } = this.ctx;
    await openStartedSales(this.ctx, this.options.activeKey, this.options.log);
    const types = (await redis.smembers(this.options.activeKey)).map(Number).filter(Number.isSafeInteger);
    await this.unblock();
    await this.controls.refresh(types);
    let handled = 0;
    for (const ticketTypeId of types) {
      if (signal?.aborted) break;
      if (this.state.blocked.has(ticketTypeId) || this.waits(ticketTypeId)) continue;
      this.options.hooks?.beat?.(0); // a round over many types is long: alive between them too
      try {
        if (!(await this.leases.hold(ticketTypeId))) continue;
        handled += await this.serve(ticketTypeId, !this.othersCanBeServed(ticketTypeId, types));
      } catch (err) {
        this.state.failed.add(ticketTypeId);
        throw err;
      }
    }
    if (sweepDue(this.state.lastSweep, Date.now())) await this.sweep();
    if (sweepDue(this.state.lastPausedCheck, Date.now())) await this.finishPausedLeftovers(types);
    return handled;
  }

  /** Runs rounds until the signal fires, backing off while Redis or PostgreSQL is down. */
  async run(signal: AbortSignal): Promise<void> {
    const idleMs = this.options.idleMs ?? 5;
    const say = { log: this.options.log, failed: "processor round failed; backing off", resumed: "processor resumed" };
    await runWithBackoff(signal, say, async () => ((await this.tick(signal)) === 0 ? idleMs : 0), this.options.hooks);
    await this.leases.releaseAll().catch(() => {});
  }

  private async serve(ticketTypeId: number, alone: boolean): Promise<number> {
    const controls = this.controls.of(ticketTypeId);
    const room = await this.roomFor(ticketTypeId, controls);
    if (room === 0) {
      this.holdBack(ticketTypeId, ROOM_RETRY_MS);
      return this.finishLeftBehind(ticketTypeId);
    }
    const firstBatch = firstBatchSize(this.state, ticketTypeId, this.ctx.batchSize);
    const started = Date.now();
    let othersWaiting = !alone;
    const watch = alone
      ? setInterval(() => {
          this.ctx.redis.smembers(this.options.activeKey).then(
            (ids) => (othersWaiting ||= this.othersCanBeServed(ticketTypeId, ids.map(Number))),
            () => {}, // Redis trouble shows in the batch itself
          );
        }, OTHERS_CHECK_MS)
      : undefined;
    const turnOver = () => turnIsOver(started, othersWaiting, Date.now());
    let result;
    try {
      const onBatch = (counts: TurnCounts, stockLeft: number | null) => this.logBatch(ticketTypeId, counts, stockLeft);
      const rate = estimatedRate(this.rate(ticketTypeId, 0), controls.holdsPerMinute);
      result = await serveTicketType(this.ctx, ticketTypeId, {
        rate, turnOver, firstBatch, onBatch, room, holdsPerMinute: controls.holdsPerMinute,
      });
    } finally {
      clearInterval(watch);
    }
    if (result.kind === "empty") {
      await this.retire(ticketTypeId);
      return 0;
    }
    if (result.kind === "limited") {
      this.holdBack(ticketTypeId, rateHoldBackMs(result.retryInMs));
      return 0;
    }
    if (result.kind === "busy") return this.recover(ticketTypeId);
    this.rate(ticketTypeId, result.granted);
    if (result.closed) {
      // PostgreSQL closed it at the grant, and everyone claimed went back in order
      this.holdBack(ticketTypeId, CLOSED_RETRY_MS);
      this.controls.forget();
      return result.people;
    }
    if (result.blocked) {
      this.state.blocked.set(ticketTypeId, { stock: result.stockLeft, since: Date.now() });
      this.state.probing.add(ticketTypeId);
    } else {
      this.state.probing.delete(ticketTypeId);
    }
    return result.people;
  }

  /** Finishes the batches in flight that their processor left (it died, or our own last batch failed midway). */
  private async recover(ticketTypeId: number): Promise<number> {
    const olderThan = recoverOlderThan(this.state, ticketTypeId, this.options.recoverAfterMs ?? RECOVER_AFTER_MS);
    const { recovered, remaining } = await recoverInflight(this.ctx, ticketTypeId, olderThan);
    if (recovered > 0) this.options.log.info("recovered a batch in flight", { ticketTypeId, recovered });
    if (remaining === 0) this.state.failed.delete(ticketTypeId);
    return recovered;
  }

  /**
   * A type that is not served now (paused, or at its max_active_holds) still gets a batch
   * left in flight finished: until then its holders are told they wait, and the rest of it
   * is out of the queue. Takes the lease only when there is something to finish.
   */
  private async finishLeftBehind(ticketTypeId: number): Promise<number> {
    if ((await this.ctx.redis.hlen(this.ctx.keys(ticketTypeId).inflight)) === 0) return 0;
    return (await this.leases.hold(ticketTypeId)) ? this.recover(ticketTypeId) : 0;
  }

  /** Every SWEEP_MS, finishes what was left in flight of the paused types among `types`. */
  private async finishPausedLeftovers(types: number[]): Promise<void> {
    this.state.lastPausedCheck = Date.now();
    for (const id of types) {
      if (this.controls.of(id).paused) await this.finishLeftBehind(id);
    }
  }

  /**
   * One line per batch (at full speed about 40 a second for a hot type). A batch that neither
   * granted, sold out nor refused anyone (a blocked type's probe, repeated every second while
   * people wait for stock to come back, or batches claimed ahead sent back) is only debug.
   */
  private logBatch(ticketTypeId: number, c: TurnCounts, stockLeft: number | null): void {
    this.options.log[c.granted > 0 || c.soldOut > 0 || c.overLimit > 0 ? "info" : "debug"]("granted holds", {
      ticket_type_id: ticketTypeId, people: c.people, granted: c.granted,
      requeued: c.requeued, sold_out: c.soldOut, over_limit: c.overLimit, stock_left: stockLeft,
    });
    // a damaged queue record is a bug or tampering somewhere: say so louder
    if (c.invalid > 0) this.options.log.warn("set aside malformed queue records", { ticket_type_id: ticketTypeId, invalid: c.invalid });
  }

  /** Whether another of `ids` is a type this processor could serve now (not one waiting for stock, paused or held back). */
  private othersCanBeServed(ticketTypeId: number, ids: number[]): boolean {
    return othersCanBeServed(this.state, (id) => this.controls.of(id), ticketTypeId, ids, Date.now());
  }

  /** Whether a type is not to be served now (see waits()); a hold-back that is over is forgotten. */
  private waits(ticketTypeId: number): boolean {
    const until = this.state.heldBack.get(ticketTypeId);
    const waiting = waits(this.controls.of(ticketTypeId), until, Date.now());
    if (!waiting && until !== undefined) this.state.heldBack.delete(ticketTypeId);
    return waiting;
  }

  private holdBack(ticketTypeId: number, ms: number): void {
    this.state.heldBack.set(ticketTypeId, Date.now() + ms);
  }

  /**
   * How many people this turn may claim under max_active_holds (null: no ceiling, and no
   * query). The holds counted now include every earlier turn's (their settles were awaited);
   * the turn then counts down what it claims.
   */
  private async roomFor(ticketTypeId: number, controls: SaleControls): Promise<number | null> {
    if (controls.maxActiveHolds === null) return null;
    return roomLeft(controls.maxActiveHolds, await heldCount(this.ctx.sql, ticketTypeId));
  }

  /** The queue looked empty: take the type off the active set, unless someone joined meanwhile. */
  private async retire(ticketTypeId: number): Promise<void> {
    const { redis, keys } = this.ctx;
    await redis.srem(this.options.activeKey, String(ticketTypeId));
    if ((await redis.llen(keys(ticketTypeId).queue)) > 0) {
      await redis.sadd(this.options.activeKey, String(ticketTypeId));
    }
  }

  /** Unblocks types whose stock moved (an expiry or release), and retries the rest now and then. */
  private async unblock(): Promise<void> {
    if (!unblockDue(this.state, Date.now())) return;
    this.state.lastUnblockCheck = Date.now();
    const ids = [...this.state.blocked.keys()];
    const rows = await this.ctx.sql<{ id: number; stock: number }[]>`
      SELECT id, stock FROM ticket_types WHERE id = ANY(${ids}::int[])`;
    const stock = new Map(rows.map((r) => [r.id, r.stock]));
    for (const id of unblocked(this.state.blocked, stock, Date.now(), this.options.blockedRetryMs ?? BLOCKED_RETRY_MS)) {
      this.state.blocked.delete(id);
    }
  }

  /**
   * Puts back on the active set any type with people queued or in flight (after data loss,
   * say), and PostgreSQL's sale start in Redis where Redis holds another.
   */
  private async sweep(): Promise<void> {
    this.state.lastSweep = Date.now();
    const { redis, keys, sql } = this.ctx;
    const types = await sql<{ id: number; sale_starts_at: Date | null }[]>`SELECT id, sale_starts_at FROM ticket_types`;
    const repaired = await repairSaleStarts(this.ctx, types);
    if (repaired.length > 0) {
      this.options.log.warn("sale start in Redis differed from PostgreSQL's; repaired", { ticket_type_ids: repaired });
      // whoever it pre-queued meanwhile is opened at the start PostgreSQL has
      await redis.sadd(prequeuedKey(this.options.activeKey), ...repaired.map(String));
    }
    const ids = types.map((r) => r.id);
    const sizes = await Promise.all(
      ids.map(async (id) => (await redis.llen(keys(id).queue)) + (await redis.hlen(keys(id).inflight))),
    );
    const waiting = ids.filter((_, i) => sizes[i]! > 0).map(String);
    if (waiting.length > 0) await redis.sadd(this.options.activeKey, ...waiting);
  }

  /** Grants per second lately, for the estimated wait that status shows. */
  private rate(ticketTypeId: number, granted: number): number | null {
    const r = nextRate(this.state.rates.get(ticketTypeId), granted, Date.now());
    this.state.rates.set(ticketTypeId, r);
    return r.perSecond;
  }
}
