// What the page says: each status of a place, each refusal of the service, in a buyer's words.
import type { TicketTypeState } from "../api/schemas";
import type { ApiError, PlaceStatus } from "./api";

export const TYPE_STATES: Record<TicketTypeState, string> = {
  on_sale: "On sale",
  sold_out: "Sold out",
  not_on_sale: "Not on sale yet",
  paused: "Sale paused",
};

type Told = { headline: string; text: string; again?: string };

/** The headline and text for a status; `again` names the button that starts over, where it makes sense. */
export const STATUS_WORDS: Record<PlaceStatus, Told> = {
  queued: { headline: "You are in the queue", text: "Keep this page open, or come back: it keeps your place." },
  paused: { headline: "The sale is paused", text: "You keep your place; the queue moves again when the sale resumes." },
  waiting_for_sale: { headline: "Waiting for the sale to start", text: "When it starts, everyone waiting gets a place in the queue in a random order." },
  reserved: { headline: "Your tickets are held for you", text: "Confirm them before the time runs out, or release them for someone else." },
  confirmed: { headline: "Booked!", text: "Your tickets are booked.", again: "Book more tickets" },
  cancelled: { headline: "Booking cancelled", text: "This booking was cancelled, and its tickets went back on sale.", again: "Book again" },
  expired: { headline: "Your hold expired", text: "It was not confirmed in time, and the tickets went back on sale.", again: "Join again" },
  released: { headline: "You gave your place back", text: "It goes to the next person in line.", again: "Join again" },
  sold_out: { headline: "Sold out", text: "Sorry: there are no tickets left for you.", again: "Choose other tickets" },
  duplicate: { headline: "You already hold these tickets", text: "You hold tickets of this type under another place; confirm them there.", again: "Back to the events" },
  invalid: { headline: "Your place could not be served", text: "Something went wrong with your request. Please join again.", again: "Join again" },
  limit_reached: { headline: "Limit reached", text: "You already booked as many of these tickets as one person may.", again: "Choose other tickets" },
  lost: { headline: "Your place was lost", text: "The queue lost your place (a fault on our side). Please join again.", again: "Join again" },
};

/** How a hold is paid for and booked: here (Confirm), at the shop's checkout (a link), or at the shop some other way. */
export type HoldMode = "confirm" | "checkout" | "shop";

export const holdModeOf = (answer: { confirm_by?: string; checkout_url?: string }): HoldMode =>
  answer.checkout_url ? "checkout" : answer.confirm_by === "shop" ? "shop" : "confirm";

/** The held card's text and its timer's label, per mode. */
export const HOLD_WORDS: Record<HoldMode, { text: string; timeLeft: string }> = {
  confirm: { text: STATUS_WORDS.reserved.text, timeLeft: "Time left to confirm" },
  checkout: { text: "Pay for them at the checkout before the time runs out, or release them for someone else.", timeLeft: "Time left to pay" },
  shop: { text: "Pay for them before the time runs out, or release them for someone else.", timeLeft: "Time left to pay" },
};

/** A refusal of the service, in words. */
export function refusalWords(error: ApiError): string {
  switch (error.code) {
    case "offline":
      return "The service cannot be reached. Check your connection.";
    case "unavailable":
      return "The service is busy right now.";
    case "rate_limited":
      return "Too many requests from your connection.";
    case "sold_out":
      return "Sorry: these tickets are sold out.";
    case "limit_reached": {
      const remaining = Number(error.fields.remaining);
      return Number.isInteger(remaining) && remaining > 0
        ? `That is over the limit per person: you may book ${remaining} more of these.`
        : "You already booked as many of these tickets as one person may.";
    }
    case "quantity_over_limit":
      return `That is more than one person may book: ${error.message}.`;
    case "quantity_over_capacity":
      return `There are not that many tickets: ${error.message}.`;
    case "already_queued":
      return error.fields.status === "reserved"
        ? "You already hold these tickets, from another browser or device: confirm them there."
        : "You already have a place in this queue, from another browser or device: follow it there.";
    case "unknown_ticket_type":
      return "That ticket type no longer exists.";
    case "unknown_token":
      return "This place is not known to the service any more. Please join again.";
    case "hold_expired":
      return "Your hold expired before it was confirmed; the tickets went back on sale.";
    case "confirm_by_shop":
      return "These tickets are booked by the shop once you have paid.";
    case "in_progress":
      return "Your turn is being served right now; try again in a moment.";
    case "payment_in_progress":
      return "Your payment is being taken at the checkout, so these tickets cannot be given back now.";
    case "booking_cancelled":
      return "This booking was cancelled, and its tickets went back on sale.";
    case "invalid_input":
      return `Please check the form: ${error.message}.`;
    default:
      return error.message ? `Something went wrong: ${error.message}.` : `Something went wrong (error ${error.status}).`;
  }
}

/** "in 1 second", "in 5 seconds". */
export const inSeconds = (seconds: number) => `in ${seconds} second${seconds === 1 ? "" : "s"}`;

/** 125 -> "2:05". */
export function clock(totalSeconds: number): string {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** What the countdown says aloud, at a few moments only (it is not read every second); `to`: "confirm", "pay". */
export function spokenTimeLeft(seconds: number, to = "confirm"): string | null {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"} left to ${to}`;
  if (seconds === 30 || seconds === 10) return `${seconds} seconds left to ${to}`;
  return null;
}

export function waitWords(seconds: number | undefined): string {
  if (seconds === undefined) return "Estimating your wait…";
  if (seconds < 60) return `About ${Math.max(1, seconds)} second${seconds <= 1 ? "" : "s"} to wait`;
  const minutes = Math.round(seconds / 60);
  return `About ${minutes} minute${minutes === 1 ? "" : "s"} to wait`;
}

/** 42.5 in EUR -> "€42.50" (in the buyer's own locale); a currency the browser does not know: "42.50 XYZ". */
export function money(value: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
  } catch {
    return `${value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
  }
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "20:00" today, else with its date ("Dec 8, 2026, 20:00"): the pre-queue may open days before. */
export function startTime(iso: string): string {
  return new Date(iso).toDateString() === new Date().toDateString() ? timeOfDay(iso) : when(iso);
}

/** 3725 -> "1:02:05"; under an hour as clock() does. */
export function longClock(totalSeconds: number): string {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  if (seconds < 3600) return clock(seconds);
  const rest = clock(seconds % 3600).padStart(5, "0");
  return `${Math.floor(seconds / 3600)}:${rest}`;
}

/** "20:00" (or "20:00:15"), in the buyer's own time. */
export function timeOfDay(iso: string | null | undefined, seconds = false): string {
  const date = new Date(iso ?? "");
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", ...(seconds && { second: "2-digit" }) });
}

/** A type whose waiting line is open: not on sale yet, but a join waits for the start. */
export function prequeueOpen(type: { status: string; prequeue_opens_at?: string | null }, now = Date.now()): boolean {
  return type.status === "not_on_sale" && !!type.prequeue_opens_at && Date.parse(type.prequeue_opens_at) <= now;
}

/** "in 4 min", "in 40 s", "now": how far off a time is, roughly. */
export function roughlyIn(iso: string, now = Date.now()): string {
  const seconds = Math.ceil((Date.parse(iso) - now) / 1000);
  if (!(seconds > 0)) return "now";
  if (seconds < 60) return `in ${seconds} s`;
  return seconds < 90 * 60 ? `in ${Math.round(seconds / 60)} min` : `in ${Math.round(seconds / 3600)} h`;
}

/** What a buyer is told about a queued place waiting for held tickets or for a moved sale, or null for a plain one. */
export function queuedWaitWords(answer: { waiting_for_held_tickets?: boolean; next_release_at?: string; sale_starts_at?: string | null }): string | null {
  if (answer.sale_starts_at) {
    return `The sale was moved to ${when(answer.sale_starts_at)}. You keep your place and are served after it starts.`;
  }
  if (answer.waiting_for_held_tickets && answer.next_release_at) {
    return `All tickets are held by people ahead of you; the next may come back by ${timeOfDay(answer.next_release_at, true)}.`;
  }
  return null;
}
