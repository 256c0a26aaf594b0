// An event's bookings: a page at a time (forward with the API's cursor), and the whole CSV
// export as a download (fetched with the token, then saved from memory: the token never goes
// into a URL).
import type { BookingsPage } from "../api/schemas";
import { api } from "./api";
import { byId, el, say } from "../browser/dom";
import { count, dateTime, refusalWords } from "./words";

const PAGE_SIZE = 20;
const body = byId("bookings").querySelector("tbody")!;
const status = byId("bookings-status");
const error = byId("bookings-error");
const next = byId<HTMLButtonElement>("bookings-next");
const csv = byId<HTMLButtonElement>("bookings-csv");

let eventId: number | null = null;
let cursor: string | null = null; // this page's
let nextCursor: string | null = null;
let pageNumber = 1;

export function showBookings(id: number): void {
  eventId = id;
  void load(null, 1);
}

/** New bookings were made: the page on show is read again. */
export function bookingsMoved(): void {
  void load(cursor, pageNumber);
}

async function load(from: string | null, number: number): Promise<void> {
  if (eventId === null) return;
  const id = eventId;
  say(error, null);
  try {
    const page = await api.bookings(id, from, PAGE_SIZE);
    if (id !== eventId) return;
    [cursor, nextCursor, pageNumber] = [from, page.next_cursor, number];
    render(page);
  } catch (err) {
    say(error, refusalWords(err));
  }
}

/** What the page on show was drawn from: a reading that brings nothing new redraws nothing. */
let shownKey = "";

function render(page: BookingsPage): void {
  const key = JSON.stringify([eventId, pageNumber, page]);
  if (key === shownKey) return;
  shownKey = key;
  body.replaceChildren(...page.bookings.map((b) => el(
    "tr", {},
    el("td", { class: "num" }, String(b.booking_id)),
    el("td", {}, b.booking_ref),
    el("td", {}, b.user_id),
    el("td", {}, b.ticket_type_name),
    el("td", { class: "num" }, count(b.quantity)),
    el("td", { class: "num" }, b.amount === null ? "–" : `${b.amount.toFixed(2)} ${b.currency ?? ""}`),
    el("td", {}, b.status),
    el("td", {}, dateTime(b.created_at)),
  )));
  const shown = page.bookings.length;
  status.textContent = shown === 0 && pageNumber === 1
    ? "No bookings yet."
    : `Page ${pageNumber}: ${shown} booking${shown === 1 ? "" : "s"}${page.next_cursor ? ", more on the next page" : ""}.`;
  next.disabled = !page.next_cursor;
}

async function download(): Promise<void> {
  if (eventId === null) return;
  say(error, null);
  csv.disabled = true;
  try {
    const text = await api.bookingsCsv(eventId);
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const link = el("a", { href: url, download: `event-${eventId}-bookings.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    say(error, refusalWords(err));
  } finally {
    csv.disabled = false;
  }
}

byId("bookings-refresh").addEventListener("click", () => void load(cursor, pageNumber));
byId("bookings-first").addEventListener("click", () => void load(null, 1));
next.addEventListener("click", () => void (nextCursor && load(nextCursor, pageNumber + 1)));
csv.addEventListener("click", () => void download());
