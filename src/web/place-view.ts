// The buyer's place on screen: the countdown to the sale's start in the waiting line; the
// position, wait and progress while queued; the hold's countdown with Confirm (or the link to
// the shop's checkout) and Release; the booking reference or how it ended. Release and leave
// ask first, in the page.
import { isFinal, type PlaceStatus, type StatusReading } from "./api";
import { byId, say } from "../browser/dom";
import type { Choice } from "./events-view";
import type { StoredPlace } from "./places";
import {
  clock, HOLD_WORDS, holdModeOf, longClock, money, queuedWaitWords, spokenTimeLeft, startTime, STATUS_WORDS, waitWords,
  type HoldMode,
} from "./words";

export type PlaceActions = { confirm(): void; release(): void; again(): void; timeUp(): void };

export class PlaceView {
  private readonly section = byId("place");
  private readonly headline = byId("place-headline");
  private readonly tickets = byId("place-tickets");
  private readonly total = byId("place-total");
  private readonly text = byId("place-text");
  private readonly queueInfo = byId("queue-info");
  private readonly position = byId("position");
  private readonly wait = byId("wait");
  private readonly progress = byId<HTMLProgressElement>("progress");
  private readonly saleInfo = byId("sale-info");
  private readonly saleWhen = byId("sale-when");
  private readonly saleCountdown = byId("sale-countdown");
  private readonly holdInfo = byId("hold-info");
  private readonly holdActions = byId("hold-actions");
  private readonly timeLeftLabel = byId("time-left-label");
  private readonly countdown = byId("countdown");
  private readonly spoken = byId("countdown-spoken");
  private readonly payAtShop = byId("pay-at-shop");
  private readonly checkoutLink = byId<HTMLAnchorElement>("checkout");
  private readonly confirmButton = byId<HTMLButtonElement>("confirm");
  private readonly releaseButton = byId<HTMLButtonElement>("release");
  private readonly leaveButton = byId<HTMLButtonElement>("leave");
  private readonly ask = byId("ask");
  private readonly askQuestion = byId("ask-question");
  private readonly askDetail = byId("ask-detail");
  private readonly askYes = byId<HTMLButtonElement>("ask-yes");
  private readonly askNo = byId<HTMLButtonElement>("ask-no");
  private readonly booking = byId("booking");
  private readonly bookingLabel = byId("booking-label");
  private readonly bookingRef = byId("booking-ref");
  private readonly error = byId("place-error");
  private readonly againButton = byId<HTMLButtonElement>("again");

  private shownStatus: PlaceStatus | null = null;
  private holdMode: HoldMode = "confirm";
  /** The checkout link of the hold on show (it changes when the shop extends the hold). */
  private checkoutUrl: string | null = null;
  private busy = false;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private deadline: string | undefined;
  private saleTicker: ReturnType<typeof setInterval> | undefined;
  private saleStart: string | undefined;
  /** What the open question does on Yes, and the button that asked it (the focus goes back there on No). */
  private asked: { yes(): void; from: HTMLElement; button: HTMLButtonElement } | null = null;

  constructor(private readonly actions: PlaceActions) {
    this.confirmButton.addEventListener("click", () => actions.confirm());
    this.releaseButton.addEventListener("click", () =>
      this.askFirst(this.holdActions, this.releaseButton, {
        question: "Give these tickets back?",
        detail: "They go back on sale at once, and you cannot have them back.",
        yes: "Yes, give them back", no: "No, keep them",
      }, () => actions.release()));
    this.leaveButton.addEventListener("click", () =>
      this.askFirst(this.leaveButton, this.leaveButton, {
        question: `${this.leaveButton.textContent}?`,
        detail: "You lose your place; joining again puts you at the back.",
        yes: "Yes, leave", no: "No, stay",
      }, () => actions.release()));
    this.askYes.addEventListener("click", () => {
      const asked = this.asked;
      this.closeQuestion(false);
      asked?.yes();
    });
    this.askNo.addEventListener("click", () => this.closeQuestion(true));
    this.ask.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closeQuestion(true);
    });
    this.againButton.addEventListener("click", () => actions.again());
  }

  /** A place just taken or resumed, before its first status arrives; `type` when the events list it. */
  open(place: StoredPlace, type: Choice | undefined): void {
    this.reset();
    this.section.hidden = false;
    this.section.dataset.status = "";
    this.headline.textContent = "Finding your place…";
    this.tickets.textContent = `${place.quantity} × ${type ? `${type.name}, ${type.eventName}` : "tickets"}`;
    this.total.textContent = type ? totalWords(place.quantity, type.price, type.currency) : "";
    this.headline.focus();
  }

  render(place: StoredPlace, answer: StatusReading): void {
    const changed = answer.status !== this.shownStatus;
    this.shownStatus = answer.status;
    if (changed) this.closeQuestion(false); // a question about a state that is gone
    const words = STATUS_WORDS[answer.status] ?? { headline: answer.status, text: answer.message ?? "" };
    this.section.dataset.status = answer.status;
    this.headline.textContent = words.headline;
    if (answer.status === "queued" && answer.sale_starts_at) this.headline.textContent = "The sale was moved";
    this.text.textContent = answer.status === "cancelled" && answer.message ? answer.message : words.text;
    // the price stays in view while there are tickets to have, or booked ones
    this.total.hidden = !this.total.textContent || (isFinal(answer.status) && !["confirmed", "cancelled"].includes(answer.status));

    const waitingForSale = answer.status === "waiting_for_sale" && !!answer.sale_starts_at;
    this.saleInfo.hidden = !waitingForSale;
    if (!waitingForSale) this.stopSaleCountdown();
    else if (answer.sale_starts_at !== this.saleStart) this.startSaleCountdown(answer.sale_starts_at!);

    const queued = answer.status === "queued" || answer.status === "paused";
    this.queueInfo.hidden = !queued;
    if (queued) this.showPosition(place, answer);

    const mayLeave = queued || answer.status === "waiting_for_sale";
    this.leaveButton.hidden = !mayLeave || this.asked?.from === this.leaveButton;
    this.leaveButton.textContent = answer.status === "waiting_for_sale" ? "Leave the waiting line" : "Leave the queue";

    this.holdInfo.hidden = answer.status !== "reserved";
    if (answer.status === "reserved") this.showHoldMode(answer);
    if (answer.status !== "reserved") this.stopCountdown();
    else if (changed || answer.expires_at !== this.deadline) this.startCountdown(answer.expires_at);

    this.showBooking(answer);

    this.againButton.hidden = !words.again;
    this.againButton.textContent = words.again ?? "";
    if (changed) {
      say(this.error, null);
      this.working(false);
      if (answer.status !== "queued") this.headline.focus(); // the hold, the end: said at once
    }
  }

  /** A refusal that ends what the page can do with this place. */
  fail(text: string): void {
    this.closeQuestion(false);
    this.stopCountdown();
    this.stopSaleCountdown();
    this.saleInfo.hidden = true;
    this.leaveButton.hidden = true;
    this.shownStatus = null;
    this.queueInfo.hidden = true;
    this.holdInfo.hidden = true;
    this.headline.textContent = "Your place cannot be followed";
    this.text.textContent = "";
    say(this.error, text);
    this.againButton.hidden = false;
    this.againButton.textContent = "Join again";
    this.headline.focus();
  }

  /** While a confirm or release is on its way (or the time is up): no second click, and no way to the checkout. */
  working(busy: boolean): void {
    this.busy = busy;
    for (const button of [this.confirmButton, this.releaseButton, this.leaveButton, this.askYes, this.askNo]) button.disabled = busy;
    this.linkCheckout();
  }

  private linkCheckout(): void {
    if (this.busy || !this.checkoutUrl) this.checkoutLink.removeAttribute("href");
    else this.checkoutLink.href = this.checkoutUrl;
  }

  showError(text: string | null): void {
    say(this.error, text);
  }

  hide(): void {
    this.reset();
    this.section.hidden = true;
  }

  private reset(): void {
    this.closeQuestion(false);
    this.stopCountdown();
    this.stopSaleCountdown();
    this.shownStatus = null;
    this.saleInfo.hidden = true;
    this.leaveButton.hidden = true;
    this.queueInfo.hidden = true;
    this.holdInfo.hidden = true;
    this.booking.hidden = true;
    this.headline.removeAttribute("aria-describedby");
    this.checkoutUrl = null;
    this.againButton.hidden = true;
    this.text.textContent = "";
    say(this.error, null);
    this.working(false);
  }

  private showPosition(place: StoredPlace, answer: StatusReading): void {
    const position = answer.position ?? 1;
    this.position.textContent = position === 1 ? "You are next in the queue" : `You are number ${position} in the queue`;
    this.wait.textContent = answer.status === "paused"
      ? "Waiting for the sale to resume"
      : queuedWaitWords(answer) ?? waitWords(answer.estimated_wait_seconds);
    // from where this place started (1 of 1 when it started at the front)
    const start = Math.max(place.firstPosition ?? position, position);
    this.progress.max = start;
    this.progress.value = start - position + 1;
    this.progress.setAttribute("aria-valuetext",
      start === 1 ? "at the front" : `${start - position} of the ${start - 1} people ahead of you served`);
  }

  private startCountdown(expiresAt: string | undefined): void {
    this.stopCountdown();
    this.deadline = expiresAt;
    const deadline = expiresAt ? Date.parse(expiresAt) : Date.now();
    let lastSpoken = -1;
    let ended = false;
    const tick = () => {
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      this.countdown.textContent = clock(left);
      const words = spokenTimeLeft(left, this.holdMode === "confirm" ? "confirm" : "pay");
      if (words && left !== lastSpoken) {
        lastSpoken = left;
        this.spoken.textContent = words;
      }
      if (left === 0 && !ended) {
        ended = true;
        this.countdown.textContent = "0:00";
        this.spoken.textContent = "Time is up";
        this.working(true);
        this.actions.timeUp(); // the service says how it ended
      }
    };
    tick();
    this.ticker = setInterval(tick, 250);
  }

  /** Confirm here, the link to the shop's checkout, or the line that the shop takes the payment. */
  private showHoldMode(answer: StatusReading): void {
    const mode = holdModeOf(answer);
    this.holdMode = mode;
    this.text.textContent = HOLD_WORDS[mode].text;
    this.timeLeftLabel.textContent = HOLD_WORDS[mode].timeLeft;
    this.confirmButton.hidden = mode !== "confirm";
    this.payAtShop.hidden = mode !== "shop";
    this.checkoutLink.hidden = mode !== "checkout";
    this.checkoutUrl = answer.checkout_url ?? null;
    this.linkCheckout();
  }

  /** A booking's public reference (its number from a service without references); said with the headline. */
  private showBooking(answer: StatusReading): void {
    const ref = answer.booking_ref ?? (answer.booking_id === undefined ? undefined : String(answer.booking_id));
    const shown = (answer.status === "confirmed" || answer.status === "cancelled") && ref !== undefined;
    this.booking.hidden = !shown;
    this.bookingLabel.textContent = answer.booking_ref ? "Booking reference" : "Booking number";
    this.bookingRef.textContent = shown ? ref : "";
    // the headline takes the focus at the end: a screen reader then reads the reference with it
    if (shown) this.headline.setAttribute("aria-describedby", "booking");
    else this.headline.removeAttribute("aria-describedby");
  }

  /**
   * "Yes / No" in place of the buttons in `from`; the focus goes to No, the choice that changes
   * nothing. Yes runs `yes`; No (or Escape) puts the buttons back and the focus on `button`.
   */
  private askFirst(from: HTMLElement, button: HTMLButtonElement, words: { question: string; detail: string; yes: string; no: string }, yes: () => void): void {
    this.closeQuestion(false);
    this.asked = { yes, from, button };
    this.askQuestion.textContent = words.question;
    this.askDetail.textContent = words.detail;
    this.askYes.textContent = words.yes;
    this.askNo.textContent = words.no;
    from.hidden = true;
    this.ask.hidden = false;
    this.askNo.focus();
  }

  private closeQuestion(backToButton: boolean): void {
    const asked = this.asked;
    this.asked = null;
    this.ask.hidden = true;
    if (!asked) return;
    asked.from.hidden = false;
    if (backToButton) asked.button.focus();
  }

  /** The waiting line's countdown to the sale's start; at the start the service is asked at once. */
  private startSaleCountdown(startsAt: string): void {
    this.stopSaleCountdown();
    this.saleStart = startsAt;
    const start = Date.parse(startsAt);
    this.saleWhen.textContent = `The sale starts at ${startTime(startsAt)}.`;
    let asked = false;
    const tick = () => {
      const left = Math.max(0, Math.ceil((start - Date.now()) / 1000));
      this.saleCountdown.textContent = left > 0 ? longClock(left) : "starting…";
      if (left === 0 && !asked) {
        asked = true;
        this.actions.timeUp();
      }
    };
    tick();
    this.saleTicker = setInterval(tick, 250);
  }

  private stopSaleCountdown(): void {
    clearInterval(this.saleTicker);
    this.saleTicker = undefined;
    this.saleStart = undefined;
  }

  private stopCountdown(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.deadline = undefined;
  }
}

/** "Total €85.00 (2 × €42.50)"; one ticket: "Total €42.50". */
function totalWords(quantity: number, unitPrice: number, currency: string): string {
  const total = `Total ${money(unitPrice * quantity, currency)}`;
  return quantity === 1 ? total : `${total} (${quantity} × ${money(unitPrice, currency)})`;
}
