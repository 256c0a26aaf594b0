// Live status for the streams one instance holds (GET /reservation/stream). Streams are
// grouped by ticket type, and one timer drives them all. Each tick reads each type's served
// mark and grant rate once (one HMGET a type, pipelined), and every queued stream of the type
// computes its own position from it: Redis work grows with ticket types, not with streams.
// A stream is looked up on its own (reservationStatus: exactly the status route's answer) only
// when its state may have changed: the mark reached its place; its hold's deadline passed; a
// change notice named it (src/streams/notices.ts); its type's catalog entry changed (paused, sale start);
// its place waits for held tickets or a moved sale (words the mark cannot give) and its position
// moved or the awaited time came;
// its type's queue started anew (Redis lost it); or the notice connection came back.
import { throttled, type Logger } from "../core/log";
import { clusterNodesNow, pipelined } from "../store/redis";
import type { StatusAnswer } from "../api/schemas";
import { heldOut, placeInQueue, reservationStatus, statusFrom, type StatusDeps } from "./status";
import { apiStatus, LIVE_STATES, type ApiStatus } from "../domain/states";
import type { TokenParts } from "../domain/tokens";
import { LiveStream } from "./live-stream";
import { ChangeNotices, EVERY_STREAM, type NoticeSource } from "../streams/notices";
import { sse } from "../streams/sse";

export type StreamHubOptions = {
  tickMs: number;
  /** A comment line at least this often, so proxies keep a quiet connection. */
  keepAliveMs: number;
  /** Position messages of one stream at least this far apart. */
  positionEveryMs: number;
  /** Streams looked up in one round trip (a pipeline): a crowd reached together costs few. */
  lookupBatch: number;
  /**
   * A hold past its deadline is normally named by the cleaner's notice (finish-2.lua), and its
   * stream then reads "expired" from Redis; one not named this long after its deadline is looked
   * up anyway (PostgreSQL then says how it ended). Longer than the cleaner's own target (1 s):
   * 10,000 such look-ups at once would go to PostgreSQL while the cleaner is busy with the same holds.
   */
  deadlineGraceMs: number;
};

export const STREAM_DEFAULTS: StreamHubOptions = {
  tickMs: 250, keepAliveMs: 15_000, positionEveryMs: 1000, lookupBatch: 500, deadlineGraceMs: 2000,
};

/** Batches of look-ups under way at once. */
const BATCHES_AT_ONCE = 2;
/** Time-driven look-ups of one stream (after a failure, past a deadline) at least this far apart. */
const RETRY_MS = 1000;
/** EventSource's reconnect delay: 1-5 s, spread so the streams of a stopped instance do not all come back at once. */
const retryAdvice = () => 1000 + Math.floor(Math.random() * 4000);

/**
 * Statuses that may still change; after any other the stream sends it and closes. A booking
 * may still be cancelled (a refund, a chargeback): its stream stays open, costs nothing a tick,
 * and is looked up only when a notice names it (cancel-2.lua publishes one).
 */
const ONGOING: ReadonlySet<ApiStatus> = new Set<ApiStatus>([...LIVE_STATES.map(apiStatus), "paused", "confirmed"]);

/** Streams whose answer the sale's catalog cannot change: a hold, a booking. */
const HOLDING: ReadonlySet<ApiStatus | undefined> = new Set<ApiStatus>(["reserved", "confirmed"]);
const inLine = (stream: LiveStream) => !HOLDING.has(stream.answer?.status);

type Group = {
  ticketTypeId: number;
  streams: Set<LiveStream>;
  /** token id -> its streams (one person may hold several) */
  byId: Map<string, LiveStream[]>;
  served: number | null;
  rate: number;
  /** meta's epoch as last read (undefined: not read yet): a new one means the queue started anew. */
  epoch: string | null | undefined;
  /** What of the type's catalog entry can change an answer without Redis knowing (null: not read yet). */
  catalog: string | null;
  saleStartsAt: number | null;
  /** No stock and holds out (src/reservations/held-tickets.ts): a queued place waits for one to end. */
  heldOut: boolean;
  /** The mark or rate moved since the last pass. */
  moved: boolean;
  /** Nothing to do before this (ms) unless the mark moves: an idle tick skips the type's streams. */
  dueAt: number;
};

export class StreamHub {
  readonly options: StreamHubOptions;
  /** Redis commands sent and look-ups made (tests and the benchmark read them). */
  readonly counts = { markReads: 0, lookups: 0 };
  private readonly groups = new Map<number, Group>();
  private readonly notices: ChangeNotices;
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticking = false;
  private lastKeepAlive = Date.now();
  private closed = false;
  private readonly waiting: LiveStream[] = [];
  private next = 0;
  private running = 0;
  /** At most one line every 5 s: a tick or a look-up failing fails again at once. */
  private readonly warn = throttled((message: string, err: unknown) => this.s.log.warn(message, { error: err }));

  constructor(
    private readonly s: StatusDeps & { log: Logger },
    options: Partial<StreamHubOptions> = {},
  ) {
    this.options = { ...STREAM_DEFAULTS, ...options };
    const { REDIS_URL, REDIS_CLUSTER_NODES } = s.config;
    const source: NoticeSource = REDIS_CLUSTER_NODES ? { nodes: () => clusterNodesNow(s.redis, REDIS_CLUSTER_NODES) } : { url: REDIS_URL };
    this.notices = new ChangeNotices(source, (id) => s.keys(id).changes, {
      notice: (ticketTypeId, ids) => this.noticed(ticketTypeId, ids),
      subscribed: (ticketTypeId) => this.lookUpAll(this.groups.get(ticketTypeId)),
    }, s.log);
  }

  /** Open streams. */
  get size(): number {
    let size = 0;
    for (const group of this.groups.values()) size += group.streams.size;
    return size;
  }

  /**
   * A stream for a verified token, its first message (the status answer now) already in its
   * body. Throws what the status route would (503 while neither Redis nor PostgreSQL can tell),
   * before any stream starts. After close(), the stream closes after its first message.
   */
  async open(parts: TokenParts, token: string, lastEventId: number): Promise<LiveStream> {
    const stream = new LiveStream(parts, token, lastEventId, retryAdvice(), (gone) => this.forget(gone));
    if (!this.closed) this.add(stream);
    stream.lookingUp = true; // a notice meanwhile asks for another look-up after this one
    const [answer] = await this.answersFor([stream]);
    stream.lookingUp = false;
    if (answer instanceof Error) {
      stream.close();
      throw answer;
    }
    this.deliver(stream, answer!);
    if (this.closed) stream.close();
    else if (stream.lookAgain) {
      stream.lookAgain = false;
      this.lookUp(stream);
    }
    return stream;
  }

  /** Closes every stream (their clients reconnect, to another instance) and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const group of [...this.groups.values()]) for (const stream of [...group.streams]) stream.close();
    this.notices.close();
  }

  private add(stream: LiveStream): void {
    const ticketTypeId = stream.parts.ticketTypeId;
    let group = this.groups.get(ticketTypeId);
    if (!group) {
      group = {
        ticketTypeId, streams: new Set(), byId: new Map(), served: null, rate: 0, epoch: undefined, catalog: null,
        saleStartsAt: null, heldOut: false, moved: false, dueAt: 0,
      };
      this.groups.set(ticketTypeId, group);
      this.notices.watch(ticketTypeId);
    }
    group.streams.add(stream);
    const same = group.byId.get(stream.parts.id);
    if (same) same.push(stream);
    else group.byId.set(stream.parts.id, [stream]);
    group.dueAt = 0;
    this.timer ??= setInterval(() => void this.tick(), this.options.tickMs);
  }

  private forget(stream: LiveStream): void {
    const group = this.groups.get(stream.parts.ticketTypeId);
    if (!group?.streams.delete(stream)) return;
    const same = group.byId.get(stream.parts.id)!.filter((s) => s !== stream);
    if (same.length > 0) group.byId.set(stream.parts.id, same);
    else group.byId.delete(stream.parts.id);
    if (group.streams.size > 0) return;
    this.groups.delete(group.ticketTypeId);
    this.notices.unwatch(group.ticketTypeId);
    if (this.groups.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const groups = [...this.groups.values()];
      await Promise.all([this.readMarks(groups), this.readCatalog(groups), this.readHolds(groups)]);
      const now = Date.now();
      for (const group of groups) this.pass(group, now);
      if (now - this.lastKeepAlive >= this.options.keepAliveMs) this.keepAlive(now);
    } catch (err) {
      this.warn("live streams' tick failed", err);
    } finally {
      this.ticking = false;
    }
  }

  /** Each type's served mark, grant rate and epoch: one HMGET a type, in one round trip. */
  private async readMarks(groups: Group[]): Promise<void> {
    const meta = (group: Group) => this.s.keys(group.ticketTypeId).meta;
    this.counts.markReads += groups.length;
    let replies;
    try {
      replies = await pipelined(this.s.redis, groups, meta, (pipeline, group) => pipeline.hmget(meta(group), "served", "rate", "epoch"));
    } catch {
      return; // Redis is away: positions wait; streams stay open and keep alive
    }
    groups.forEach((group, i) => {
      const [err, reply] = replies?.[i] ?? [];
      if (err || !reply) return;
      const [served, rate, epoch] = reply as (string | null)[];
      if (group.epoch !== undefined && epoch !== group.epoch) this.lookUpAll(group); // the queue started anew
      group.epoch = epoch ?? null;
      const mark = Number(served ?? 0);
      const perSecond = Number(rate || 0);
      if (mark !== group.served || perSecond !== group.rate) group.moved = true;
      group.served = mark;
      group.rate = perSecond;
    });
  }

  /**
   * What the catalog (PostgreSQL, at most once a second for the whole instance) says of each
   * type: pausing, resuming or the sale's start change answers that Redis does not show.
   */
  private async readCatalog(groups: Group[]): Promise<void> {
    let events;
    try {
      events = await this.s.catalog.events();
    } catch {
      return;
    }
    const types = new Map(events.flatMap((e) => e.ticket_types.map((t) => [t.id, t] as const)));
    for (const group of groups) {
      const type = types.get(group.ticketTypeId);
      if (!type) continue;
      const catalog = `${type.paused}|${type.sale_starts_at}|${type.status === "not_on_sale"}`;
      if (group.catalog !== null && catalog !== group.catalog) {
        this.lookUpAll(group, inLine);
      }
      group.catalog = catalog;
      group.saleStartsAt = type.sale_starts_at ? Date.parse(type.sale_starts_at) : null;
    }
  }

  /**
   * Whether each type has no stock and holds out, as status reads it (the same cache, one
   * PostgreSQL query a second a type): its queued streams then wait for held tickets.
   */
  private async readHolds(groups: Group[]): Promise<void> {
    await Promise.all(groups.map(async (group) => {
      const held = await this.s.heldTickets.soon(group.ticketTypeId);
      if (!held || heldOut(held) === group.heldOut) return;
      group.heldOut = heldOut(held);
      group.dueAt = 0; // the next pass looks at its queued streams
    }));
  }

  /** One type's streams: positions from the mark, and look-ups of those whose state may have changed. */
  private pass(group: Group, now: number): void {
    if (!group.moved && now < group.dueAt) return;
    group.moved = false;
    const { served, rate } = group;
    let due = Infinity;
    const later = (at: number) => (due = Math.min(due, at));
    for (const stream of group.streams) {
      const answer = stream.answer;
      if (stream.lookingUp || !answer) continue;
      if (stream.failed || (answer.status === "queued" && stream.place === null)) {
        if (now >= stream.retryAt) this.lookUp(stream);
        else later(stream.retryAt);
        continue;
      }
      if (answer.status === "queued" && served !== null) {
        if (stream.place! <= served) {
          // its turn came: served, sent back, refused; once per move of the mark
          if (served > stream.servedSeen) {
            stream.servedSeen = served;
            this.lookUp(stream);
          }
          continue;
        }
        const place = placeInQueue(stream.place!, served, rate);
        const waitsFor = waitsForTime(answer);
        if (waitsFor !== null || group.heldOut) {
          // a wait for held tickets or a moved sale: words the mark alone cannot give. Looked up
          // instead when the position moved (as often as positions are sent) and when the awaited time comes
          let at = waitsFor === null ? Infinity : waitsFor + this.options.deadlineGraceMs;
          // its answer was made on an older reading of the holds: as if the position moved
          const stale = !answer.sale_starts_at && group.heldOut !== (answer.waiting_for_held_tickets === true);
          if (stale || place.position !== answer.position) at = Math.min(at, stream.positionSentAt + this.options.positionEveryMs);
          at = Math.max(at, stream.retryAt);
          if (now >= at) this.lookUp(stream);
          else if (at < Infinity) later(at);
          continue;
        }
        if (place.position === answer.position && place.estimated_wait_seconds === answer.estimated_wait_seconds) continue;
        const at = stream.positionSentAt + this.options.positionEveryMs;
        if (now >= at) stream.send(withPlace(answer, place), now);
        else later(at);
      } else if (answer.status === "reserved") {
        const at = Math.max(stream.deadline + this.options.deadlineGraceMs, stream.retryAt);
        if (now >= at) this.lookUp(stream);
        else later(at);
      } else if (answer.status === "waiting_for_sale" && group.saleStartsAt !== null) {
        // the pre-queue gets its places once the sale starts: look until it did
        const at = Math.max(group.saleStartsAt, stream.retryAt);
        if (now >= at) this.lookUp(stream);
        else later(at);
      }
    }
    group.dueAt = due;
  }

  private keepAlive(now: number): void {
    this.lastKeepAlive = now;
    const comment = sse.comment("keep-alive");
    for (const group of this.groups.values()) for (const stream of group.streams) stream.write(comment);
  }

  private noticed(ticketTypeId: number, ids: string[]): void {
    const group = this.groups.get(ticketTypeId);
    if (!group) return;
    if (ids.includes(EVERY_STREAM)) {
      // the operator paused, resumed or moved the sale: every place not holding tickets may read
      // otherwise now; this instance's catalog, maybe a second old, is read anew for it
      this.s.catalog.invalidate();
      this.lookUpAll(group, inLine);
      return;
    }
    for (const id of ids) for (const stream of group.byId.get(id) ?? []) this.lookUp(stream);
  }

  private lookUpAll(group: Group | undefined, which: (stream: LiveStream) => boolean = () => true): void {
    for (const stream of group?.streams ?? []) if (which(stream)) this.lookUp(stream);
  }

  /** Queues a look-up of one stream; they run in batches of lookupBatch, one round trip each. */
  private lookUp(stream: LiveStream): void {
    if (stream.closed) return;
    if (stream.lookingUp) {
      stream.lookAgain = true;
      return;
    }
    stream.lookingUp = true;
    stream.retryAt = Date.now() + RETRY_MS;
    this.waiting.push(stream);
    queueMicrotask(() => this.runWaiting()); // the rest of this tick's look-ups join the batch
  }

  private runWaiting(): void {
    while (this.running < BATCHES_AT_ONCE && this.next < this.waiting.length) {
      const batch = this.waiting.slice(this.next, this.next + this.options.lookupBatch);
      this.next += batch.length;
      if (this.next === this.waiting.length) {
        this.waiting.length = 0;
        this.next = 0;
      }
      this.running++;
      void this.refresh(batch.filter((stream) => !stream.closed)).finally(() => {
        this.running--;
        for (const stream of batch) this.lookedUp(stream);
        this.runWaiting();
      });
    }
  }

  private lookedUp(stream: LiveStream): void {
    stream.lookingUp = false;
    const group = this.groups.get(stream.parts.ticketTypeId);
    if (group) group.dueAt = 0; // the next tick looks at it again
    if (stream.lookAgain) {
      stream.lookAgain = false;
      this.lookUp(stream);
    }
  }

  private async refresh(streams: LiveStream[]): Promise<void> {
    const answers = await this.answersFor(streams);
    streams.forEach((stream, i) => {
      const answer = answers[i]!;
      stream.failed = answer instanceof Error; // tried again from retryAt; the stream stays open meanwhile
      if (answer instanceof Error) this.warn("a live stream could not look its token up; trying again", answer);
      else this.deliver(stream, answer);
    });
  }

  /**
   * The status route's answer for each stream, from one pipeline of lookup-2.lua; a queued
   * place is noted on the way. A look-up that failed goes the status route's own way
   * (PostgreSQL while Redis is down); an error in place of an answer nobody could give.
   */
  private async answersFor(streams: LiveStream[]): Promise<(StatusAnswer | Error)[]> {
    if (streams.length === 0) return [];
    this.counts.lookups += streams.length;
    const found = await this.s.redis.scripts
      .lookupMany(streams.map((stream) => ({ keys: this.s.keys(stream.parts.ticketTypeId), id: stream.parts.id })))
      .catch((err: Error) => streams.map(() => err));
    return Promise.all(streams.map(async (stream, i): Promise<StatusAnswer | Error> => {
      const lookup = found[i]!;
      try {
        if (lookup instanceof Error) return await reservationStatus(this.s, stream.parts, stream.token);
        if (stream.place === null && lookup.place !== null && lookup.place > 0) stream.place = lookup.place;
        return await statusFrom(this.s, stream.parts.ticketTypeId, stream.token, lookup);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    }));
  }

  private deliver(stream: LiveStream, answer: StatusAnswer): void {
    stream.send(answer, Date.now());
    if (!ONGOING.has(answer.status)) stream.close();
  }
}

type Queued = Extract<StatusAnswer, { status: "queued" }>;

/** The time a queued answer waits for (a held ticket's deadline, a moved sale's start), or null for a plain place. */
function waitsForTime(answer: Queued): number | null {
  const at = answer.next_release_at ?? answer.sale_starts_at;
  return at ? Date.parse(at) : null;
}

/** A queued answer with a new position and wait, its fields in the status route's order. */
function withPlace(answer: Queued, place: Pick<Queued, "position" | "estimated_wait_seconds">): Queued {
  const { position: _p, estimated_wait_seconds: _w, message, ...rest } = answer;
  return { ...rest, ...place, message };
}
