// The buyer's place on screen: the position, wait and progress while queued; the hold's
// countdown with Confirm and Release; the booking number or how it ended.
import type { PlaceStatus, StatusAnswer } from "./api";
import { byId, say } from "./dom";
import type { StoredPlace } from "./places";
import { clock, spokenTimeLeft, STATUS_WORDS, waitWords, when } from "./words";

export type PlaceActions = { confirm(): void; release(): void; again(): void; timeUp(): void };

export class PlaceView {
  private readonly section = byId("place");
  private readonly headline = byId("place-headline");
  private readonly tickets = byId("place-tickets");
  private readonly text = byId("place-text");
  private readonly queueInfo = byId("queue-info");
  private readonly position = byId("position");
  private readonly wait = byId("wait");
  private readonly progress = byId<HTMLProgressElement>("progress");
  private readonly holdInfo = byId("hold-info");
  private readonly countdown = byId("countdown");
  private readonly spoken = byId("countdown-spoken");
  private readonly confirmButton = byId<HTMLButtonElement>("confirm");
  private readonly releaseButton = byId<HTMLButtonElement>("release");
  private readonly booking = byId("booking");
  private readonly bookingId = byId("booking-id");
  private readonly error = byId("place-error");
  private readonly againButton = byId<HTMLButtonElement>("again");

  private shownStatus: PlaceStatus | null = null;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private deadline: string | undefined;

  constructor(private readonly actions: PlaceActions) {
    this.confirmButton.addEventListener("click", () => actions.confirm());
    this.releaseButton.addEventListener("click", () => actions.release());
    this.againButton.addEventListener("click", () => actions.again());
  }

  /** A place just taken or resumed, before its first status arrives. */
  open(place: StoredPlace, typeName: string): void {
    this.reset();
    this.section.hidden = false;
    this.section.dataset.status = "";
    this.headline.textContent = "Finding your place…";
    this.tickets.textContent = `${place.quantity} × ${typeName}`;
    this.headline.focus();
  }

  render(place: StoredPlace, answer: StatusAnswer): void {
    const changed = answer.status !== this.shownStatus;
    this.shownStatus = answer.status;
    const words = STATUS_WORDS[answer.status] ?? { headline: answer.status, text: answer.message ?? "" };
    this.section.dataset.status = answer.status;
    this.headline.textContent = words.headline;
    this.text.textContent = answer.status === "waiting_for_sale" && answer.sale_starts_at
      ? `The sale starts ${when(answer.sale_starts_at)}. ${words.text}`
      : words.text;

    const queued = answer.status === "queued" || answer.status === "paused";
    this.queueInfo.hidden = !queued;
    if (queued) this.showPosition(place, answer);

    this.holdInfo.hidden = answer.status !== "reserved";
    if (answer.status !== "reserved") this.stopCountdown();
    else if (changed || answer.expires_at !== this.deadline) this.startCountdown(answer.expires_at);

    this.booking.hidden = answer.status !== "confirmed";
    this.bookingId.textContent = answer.booking_id === undefined ? "" : String(answer.booking_id);

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
    this.stopCountdown();
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

  /** While a confirm or release is on its way: no second click. */
  working(busy: boolean): void {
    this.confirmButton.disabled = busy;
    this.releaseButton.disabled = busy;
  }

  showError(text: string | null): void {
    say(this.error, text);
  }

  hide(): void {
    this.reset();
    this.section.hidden = true;
  }

  private reset(): void {
    this.stopCountdown();
    this.shownStatus = null;
    this.queueInfo.hidden = true;
    this.holdInfo.hidden = true;
    this.booking.hidden = true;
    this.againButton.hidden = true;
    this.text.textContent = "";
    say(this.error, null);
    this.working(false);
  }

  private showPosition(place: StoredPlace, answer: StatusAnswer): void {
    const position = answer.position ?? 1;
    this.position.textContent = position === 1 ? "You are next in the queue" : `You are number ${position} in the queue`;
    this.wait.textContent = answer.status === "paused" ? "Waiting for the sale to resume" : waitWords(answer.estimated_wait_seconds);
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
      const words = spokenTimeLeft(left);
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

  private stopCountdown(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.deadline = undefined;
  }
}
