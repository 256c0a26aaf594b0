// The crowd: buyers who arrive over a while, join, poll, then confirm, release or abandon their
// hold, and rejoin when told their place was lost. What each was told is kept, so the end of
// the run can check every answer against PostgreSQL. In shop mode (CONFIRM_BY=shop) a buyer
// who means to buy pays at the shop, which books the hold (chaos/shop.ts), and comes back to
// see the booking; some press the page's confirm anyway and are refused.
import { jitter, type Client, type Reply } from "./client";
import type { Shop } from "./shop";

export type Journal = {
  /** Tokens some answer called reserved (a hold must exist for each). */
  seenReserved: Set<string>;
  /** Bookings as answered to buyers: token -> booking id. */
  bookings: Map<string, number>;
  /** Answers no client should ever get. */
  wrongAnswers: string[];
};

export const newJournal = (): Journal => ({ seenReserved: new Set(), bookings: new Map(), wrongAnswers: [] });

export type Outcome = "confirmed" | "released" | "abandoned" | "expired" | "sold_out" | "stuck";

export type CrowdResult = {
  outcomes: Record<Outcome, number>;
  served: number; // buyers who got a hold at least once
  toldToRejoin: number; // answers of "lost" (after Redis lost the queue)
  duplicates: number;
  /** 409 already_queued: a join not verified as its user while that user's place lived. */
  alreadyQueued: number;
};

export type CrowdOptions = {
  buyers: number;
  ticketTypeId: number;
  arrivalMs: number;
  random: () => number;
  /** Buyers still waiting when this fires are counted stuck. */
  giveUp: AbortSignal;
  /** Shop mode: the shop that books paid holds. */
  shop: Shop | null;
  /** The ticket type's price: what the shop charges. */
  unitPrice: number;
};

const POLL_MS: [number, number] = [300, 700];
const THINK_MS: [number, number] = [200, 1500];
const PAYMENT_MS: [number, number] = [100, 800];
/** Shop mode: share of buyers who press confirm on the page themselves (refused: the shop books). */
const OWN_CONFIRM_SHARE = 0.3;
const MAX_REJOINS = 30;

export async function runCrowd(client: Client, journal: Journal, o: CrowdOptions): Promise<CrowdResult> {
  const result: CrowdResult = {
    outcomes: { confirmed: 0, released: 0, abandoned: 0, expired: 0, sold_out: 0, stuck: 0 },
    served: 0,
    toldToRejoin: 0,
    duplicates: 0,
    alreadyQueued: 0,
  };
  const buyers = Array.from({ length: o.buyers }, async (_, i) => {
    await Bun.sleep((o.arrivalMs * i) / o.buyers);
    const outcome = await new Buyer(client, journal, result, o, i).run();
    result.outcomes[outcome]++;
  });
  await Promise.all(buyers);
  return result;
}

class Buyer {
  private readonly user: string;
  private readonly quantity: number;
  private readonly plan: "confirm" | "release" | "abandon";
  private served = false;

  constructor(
    private readonly client: Client,
    private readonly journal: Journal,
    private readonly result: CrowdResult,
    private readonly o: CrowdOptions,
    index: number,
  ) {
    const r = o.random;
    this.user = `buyer-${index}`;
    this.quantity = r() < 0.25 ? 2 : 1;
    const p = r();
    this.plan = p < 0.4 ? "confirm" : p < 0.65 ? "release" : "abandon";
  }

  async run(): Promise<Outcome> {
    let rejoins = 0;
    while (!this.o.giveUp.aborted && rejoins <= MAX_REJOINS) {
      const joined = await this.retry(() => this.client.join(this.user, this.o.ticketTypeId, this.quantity));
      if (!joined) break;
      if (joined.status === 409 && joined.body?.error === "sold_out") return "sold_out";
      if (joined.status === 409 && joined.body?.error === "already_queued") {
        // Only when a join went unverified (the buyers sign in, so it should not happen): the
        // place's token is not ours to see. Wait for that place to end, then join again.
        this.result.alreadyQueued++;
        await Bun.sleep(jitter(this.o.random, 1000, 2000));
        continue;
      }
      if (joined.status !== 200 && joined.status !== 201) {
        this.wrong(`join answered ${joined.status} ${JSON.stringify(joined.body)}`);
        return "stuck";
      }
      const outcome = await this.follow(joined.body.queue_token);
      if (outcome !== "rejoin") return outcome;
      rejoins++;
    }
    return "stuck";
  }

  /** Polls one token until it ends; "rejoin" when the service says to join again. */
  private async follow(token: string): Promise<Outcome | "rejoin"> {
    while (!this.o.giveUp.aborted) {
      const reply = await this.retry(() => this.client.status(token));
      if (!reply) break;
      const status = reply.body?.status;
      if (reply.status !== 200) {
        this.wrong(`status answered ${reply.status} ${JSON.stringify(reply.body)}`);
        return "stuck";
      }
      switch (status) {
        case "queued":
          await Bun.sleep(jitter(this.o.random, ...POLL_MS));
          continue;
        case "reserved":
          this.journal.seenReserved.add(token);
          if (!this.served) this.result.served++;
          this.served = true;
          return this.act(token);
        case "confirmed":
          this.journal.bookings.set(token, reply.body.booking_id);
          return "confirmed";
        case "expired":
          return "expired";
        case "released":
          return "released";
        case "sold_out":
          return "sold_out";
        case "lost":
          this.result.toldToRejoin++;
          return "rejoin";
        case "duplicate":
          // another token of ours holds tickets (a place we were told was lost got served after all)
          this.result.duplicates++;
          await Bun.sleep(500);
          return "rejoin";
        default:
          this.wrong(`status said ${JSON.stringify(reply.body)}`);
          return "stuck";
      }
    }
    return "stuck";
  }

  private async act(token: string): Promise<Outcome> {
    await Bun.sleep(jitter(this.o.random, ...THINK_MS));
    const shop = this.o.shop;
    if (shop && this.plan !== "release" && this.o.random() < OWN_CONFIRM_SHARE && !(await this.confirmRefused(token, shop))) return "stuck";
    if (this.plan === "abandon") return "abandoned";
    if (shop && this.plan === "confirm") return this.checkout(token, shop);
    for (;;) {
      const reply = await this.retry(() => (this.plan === "confirm" ? this.client.confirm(token) : this.client.release(token)));
      if (!reply) return "stuck";
      if (reply.status === 200) {
        if (this.plan === "release") return "released";
        this.journal.bookings.set(token, reply.body.booking_id);
        return "confirmed";
      }
      if (reply.status === 410 && reply.body?.error === "hold_expired") return "expired";
      if (reply.status === 409 && reply.body?.error === "in_progress") {
        await Bun.sleep(200);
        continue;
      }
      this.wrong(`${this.plan} of a reserved token answered ${reply.status} ${JSON.stringify(reply.body)}`);
      return "stuck";
    }
  }

  /** Shop mode: the buyer's own confirm is refused and changes nothing (an abandoned hold stays unbooked). */
  private async confirmRefused(token: string, shop: Shop): Promise<boolean> {
    const reply = await this.retry(() => this.client.confirm(token));
    if (!reply) return false;
    if (reply.status !== 403 || reply.body?.error !== "confirm_by_shop") {
      this.wrong(`the buyer's confirm in shop mode answered ${reply.status} ${JSON.stringify(reply.body)}`);
      return false;
    }
    shop.ledger.refusedBuyerConfirms++;
    if (this.plan === "abandon") shop.ledger.leftAfterRefusal.add(token);
    return true;
  }

  /** Shop mode: pays at the shop, which books the hold; back on the page, the status shows that booking. */
  private async checkout(token: string, shop: Shop): Promise<Outcome> {
    await Bun.sleep(jitter(this.o.random, ...PAYMENT_MS));
    const outcome = await shop.checkout(token, this.o.unitPrice * this.quantity, this.o.giveUp);
    if (outcome !== "confirmed") return outcome;
    const bookingId = shop.ledger.bookings.get(token)!.booking_id;
    for (;;) {
      const reply = await this.retry(() => this.client.status(token));
      if (!reply) return "stuck";
      // Redis may have missed the booking (down when told): status reads reserved until the deadline
      if (reply.status === 200 && reply.body?.status === "reserved") {
        await Bun.sleep(jitter(this.o.random, ...POLL_MS));
        continue;
      }
      if (reply.status === 200 && reply.body?.status === "confirmed" && reply.body.booking_id === bookingId) return "confirmed";
      this.wrong(`after the shop was told of booking ${bookingId}, status answered ${reply.status} ${JSON.stringify(reply.body)}`);
      return "stuck";
    }
  }

  /** Repeats a call while the service is down or answers 503; null once the crowd gives up. */
  private async retry(call: () => Promise<Reply>): Promise<Reply | null> {
    let wait = 100;
    while (!this.o.giveUp.aborted) {
      const reply = await call();
      if (reply.status !== 0 && reply.status !== 503) return reply;
      await Bun.sleep(jitter(this.o.random, wait / 2, wait));
      wait = Math.min(2000, wait * 2);
    }
    return null;
  }

  private wrong(what: string) {
    this.journal.wrongAnswers.push(`${this.user}: ${what}`);
  }
}
