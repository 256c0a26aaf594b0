// The shop of a shop-mode run (CONFIRM_BY=shop): buyers with a hold go to its checkout, pay,
// and the shop books the hold server to server (POST /shop/holds/:token/confirm). One order
// per hold: its Idempotency-Key and body are made once and sent again on every retry, so a
// request whose answer was lost (a timeout, an instance gone with kill -9 or at a crash point)
// is asked again, of any instance, until the answer is definite; some requests it stops waiting
// for after a few milliseconds, so a retry races the first. Now and then two or three of
// the shop's workers confirm one hold with its key at once (a payment notified twice), and a
// second order with a new key asks for a hold already booked. Every answer is kept for
// shopChecks at the end.
import type { Sql } from "../src/store/db";
import { jitter, type Client, type Reply } from "./client";
import type { Journal } from "./crowd";
import type { Check } from "./run";

/** The instances' SHOP_API_KEYS: two, as while a key is rotated; the shop sends either. */
export const SHOP_API_KEYS = ["chaos-shop-key-".padEnd(40, "s"), "chaos-shop-next-key-".padEnd(40, "n")];

/** Share of holds confirmed by two or three workers at once, with the hold's one key. */
const CONCURRENT_SHARE = 0.15;
/** Share of booked holds asked for again by a second order (a new key): 409 already_confirmed. */
const SECOND_ORDER_SHARE = 0.1;
/** Share of requests the shop stops waiting for after a few milliseconds: the instance may book, the answer is lost. */
const IMPATIENT_SHARE = 0.3;
const IMPATIENT_MS: [number, number] = [2, 40];

export type ShopBooking = {
  booking_id: number; booking_ref: string; order_ref: string; queue_token: string;
  ticket_type_id: number; quantity: number; amount: number; currency: string; confirmed_at: string;
};

type Order = { key: string; body: { order_ref: string; amount?: number } };

export type ShopLedger = {
  /** The first booking answered for each hold (token -> booking): what the shop was told. */
  bookings: Map<string, ShopBooking>;
  /** Answers 201 without Idempotent-Replayed per hold: two would be two bookings under one key. */
  fresh: Map<string, number>;
  replayed: number;
  /** Confirms asked again after no answer (an instance down or killed, a timeout), a 503 or in_progress. */
  retries: number;
  /** Answers 201 for a hold that differ from its first. */
  mismatches: string[];
  /** Holds confirmed by several workers at once. */
  concurrent: number;
  /** Second orders refused 409 already_confirmed with the hold's booking. */
  secondOrders: number;
  /** The buyer's own confirm, refused 403 confirm_by_shop. */
  refusedBuyerConfirms: number;
  /** Holds whose buyer was refused and then left them: none may be booked. */
  leftAfterRefusal: Set<string>;
};

export type ShopSummary = Omit<ShopLedger, "bookings" | "fresh" | "mismatches" | "leftAfterRefusal"> & {
  booked: number;
  /** Bookings whose first answer never came (a crash, a kill, a timeout): the shop heard of them by a replay. */
  toldByReplay: number;
  mismatches: number;
  leftAfterRefusal: number;
};

export class Shop {
  readonly ledger: ShopLedger = {
    bookings: new Map(), fresh: new Map(), replayed: 0, retries: 0, mismatches: [], concurrent: 0, secondOrders: 0,
    refusedBuyerConfirms: 0, leftAfterRefusal: new Set(),
  };
  private readonly orders = new Map<string, Order>();
  private ordersMade = 0;

  constructor(
    private readonly client: Client,
    private readonly journal: Journal,
    private readonly random: () => number,
  ) {}

  /** One confirm of `token` with its order (made on first use; `amount` null: sent without one). */
  async confirmOnce(token: string, amount: number | null): Promise<Reply> {
    let order = this.orders.get(token);
    if (!order) {
      order = this.newOrder(amount);
      this.orders.set(token, order);
    }
    const reply = await this.send(token, order);
    if (reply.status === 201) this.keep(token, order, reply);
    return reply;
  }

  /**
   * Books a paid hold: one worker, or sometimes two or three at once with the one key, each
   * until its answer is definite. "stuck" when the crowd gave up first.
   */
  async checkout(token: string, amount: number, giveUp: AbortSignal): Promise<"confirmed" | "expired" | "stuck"> {
    const workers = this.random() < CONCURRENT_SHARE ? 2 + Math.floor(this.random() * 2) : 1;
    if (workers > 1) this.ledger.concurrent++;
    const replies = await Promise.all(Array.from({ length: workers }, () => this.untilDefinite(() => this.confirmOnce(token, amount), giveUp)));
    if (replies.some((r) => r === null)) return "stuck";
    const told = new Set(replies.map((r) => (r!.status === 201 ? "booked" : r!.status === 410 && r!.body?.error === "hold_expired" ? "expired" : "wrong")));
    if (told.has("wrong") || told.size > 1) {
      this.wrong(`confirm of a paid hold by ${workers} worker(s) answered ${replies.map((r) => `${r!.status} ${JSON.stringify(r!.body)}`).join(" / ")}`);
      return "stuck";
    }
    if (told.has("expired")) return "expired";
    if (this.random() < SECOND_ORDER_SHARE && !(await this.secondOrder(token, giveUp))) return "stuck";
    return "confirmed";
  }

  /** A new order (a new key) for a booked hold: 409 already_confirmed naming its booking. */
  private async secondOrder(token: string, giveUp: AbortSignal): Promise<boolean> {
    const booking = this.ledger.bookings.get(token)!;
    const order = this.newOrder(booking.amount);
    const reply = await this.untilDefinite(() => this.send(token, order), giveUp);
    if (!reply) return false;
    if (reply.status === 409 && reply.body?.error === "already_confirmed" && reply.body.booking_id === booking.booking_id) {
      this.ledger.secondOrders++;
      return true;
    }
    this.wrong(`a second order for booking ${booking.booking_id} answered ${reply.status} ${JSON.stringify(reply.body)}`);
    return false;
  }

  private newOrder(amount: number | null): Order {
    const order_ref = `order-${++this.ordersMade}`;
    return { key: crypto.randomUUID(), body: amount === null ? { order_ref } : { order_ref, amount } };
  }

  private send(token: string, order: Order): Promise<Reply> {
    const apiKey = SHOP_API_KEYS[Math.floor(this.random() * SHOP_API_KEYS.length)]!;
    const timeoutMs = this.random() < IMPATIENT_SHARE ? jitter(this.random, ...IMPATIENT_MS) : undefined;
    return this.client.call("POST", `/shop/holds/${encodeURIComponent(token)}/confirm`, order.body, undefined, {
      authorization: `Bearer ${apiKey}`, "idempotency-key": order.key,
    }, timeoutMs);
  }

  /** A 201: the first for its hold is what the shop was told; every later one must be the same. */
  private keep(token: string, order: Order, reply: Reply) {
    const booking = reply.body as ShopBooking;
    if (reply.headers.get("idempotent-replayed") === "true") this.ledger.replayed++;
    else this.ledger.fresh.set(token, (this.ledger.fresh.get(token) ?? 0) + 1);
    const first = this.ledger.bookings.get(token);
    if (first) {
      if (!Bun.deepEquals(first, booking)) this.ledger.mismatches.push(`${JSON.stringify(booking)} after ${JSON.stringify(first)}`);
      return;
    }
    if (booking.queue_token !== token || booking.order_ref !== order.body.order_ref || (order.body.amount ?? booking.amount) !== booking.amount) {
      this.wrong(`a booking answered for ${JSON.stringify(order.body)} was ${JSON.stringify(booking)}`);
    }
    this.ledger.bookings.set(token, booking);
    this.journal.bookings.set(token, booking.booking_id);
  }

  /** Repeats a call while no instance answers, it answers 503 or the hold is still being granted. */
  private async untilDefinite(call: () => Promise<Reply>, giveUp: AbortSignal): Promise<Reply | null> {
    let wait = 100;
    while (!giveUp.aborted) {
      const reply = await call();
      const retry = reply.status === 0 || reply.status === 503 || (reply.status === 409 && reply.body?.error === "in_progress");
      if (!retry) return reply;
      this.ledger.retries++;
      await Bun.sleep(jitter(this.random, wait / 2, wait));
      wait = Math.min(2000, wait * 2);
    }
    return null;
  }

  private wrong(what: string) {
    this.journal.wrongAnswers.push(`shop: ${what}`);
  }

  summary(): ShopSummary {
    const { bookings, fresh, mismatches, leftAfterRefusal, ...counts } = this.ledger;
    const toldByReplay = [...bookings.keys()].filter((token) => !fresh.has(token)).length;
    return { ...counts, booked: bookings.size, toldByReplay, mismatches: mismatches.length, leftAfterRefusal: leftAfterRefusal.size };
  }
}

/**
 * What shop mode adds to the final checks: every booking the shop was told of exists once in
 * PostgreSQL as told, every answer for a hold was the same, every booking was made by the shop
 * (with its answer kept under its key), and the buyers' own confirms changed nothing.
 */
export async function shopChecks(sql: Sql, ledger: ShopLedger): Promise<Check[]> {
  const told = [...ledger.bookings.values()];
  const [{ wrong }] = await sql<{ wrong: number }[]>`
    SELECT count(*)::int AS wrong FROM (
      SELECT a.token FROM unnest(${told.map((b) => b.queue_token)}::text[], ${told.map((b) => b.booking_id)}::bigint[],
                                 ${told.map((b) => b.booking_ref)}::text[], ${told.map((b) => b.order_ref)}::text[],
                                 ${told.map((b) => b.amount)}::numeric[]) AS a(token, id, ref, order_ref, amount)
      LEFT JOIN bookings b ON b.token = a.token OR b.id = a.id OR b.booking_ref = a.ref
      GROUP BY a.token
      HAVING count(b.id) <> 1 OR NOT bool_and(b.token = a.token AND b.id = a.id AND b.booking_ref = a.ref
                                            AND b.order_ref = a.order_ref AND b.amount = a.amount AND b.status = 'confirmed')
    ) x`;
  const [{ twice }] = await sql<{ twice: number }[]>`
    SELECT count(*)::int AS twice FROM (SELECT token FROM bookings GROUP BY token HAVING count(*) > 1) x`;
  const freshTwice = [...ledger.fresh].filter(([, n]) => n > 1).length;
  const [{ unkept, untold }] = await sql<{ unkept: number; untold: number }[]>`
    SELECT (SELECT count(*) FROM bookings b
            WHERE b.order_ref IS NULL OR NOT EXISTS (
              SELECT 1 FROM idempotency_keys k
              WHERE k.response_status = 201 AND k.response_body->>'queue_token' = b.token
                AND (k.response_body->>'booking_id')::bigint = b.id AND k.response_body->>'booking_ref' = b.booking_ref))::int AS unkept,
           (SELECT count(*) FROM idempotency_keys k
            WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = (k.response_body->>'booking_id')::bigint
                                AND b.token = k.response_body->>'queue_token'))::int AS untold`;
  const left = [...ledger.leftAfterRefusal];
  const [{ changed }] = await sql<{ changed: number }[]>`
    SELECT count(*)::int AS changed FROM unnest(${left}::text[]) AS t(token)
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.token = t.token)
       OR NOT EXISTS (SELECT 1 FROM reservations r WHERE r.token = t.token AND r.status = 'expired')`;
  return [
    {
      name: "shop bookings exist once",
      ok: wrong === 0 && twice === 0,
      detail: `${told.length} bookings told to the shop; ${wrong} not in PostgreSQL exactly once as told; ${twice} holds with two bookings`,
    },
    {
      name: "shop answers agree",
      ok: ledger.mismatches.length === 0 && freshTwice === 0,
      detail: ledger.mismatches.length + freshTwice === 0
        ? `${ledger.replayed} replayed answers (${ledger.retries} retries), each the hold's first; ${ledger.concurrent} holds confirmed by 2-3 workers at once; ${ledger.secondOrders} second orders 409 already_confirmed`
        : `${freshTwice} holds booked twice under one key; ${ledger.mismatches.slice(0, 2).join("; ")}`,
    },
    {
      name: "only the shop booked",
      ok: unkept === 0 && untold === 0,
      detail: `${unkept} bookings without an order_ref and their answer kept under a key; ${untold} kept answers without their booking`,
    },
    {
      name: "buyer confirm refused",
      ok: changed === 0,
      detail: `${ledger.refusedBuyerConfirms} buyers' own confirms answered 403; ${left.length} of their holds then left: ${changed} not simply expired`,
    },
  ];
}
