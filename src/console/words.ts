// What the console says: the service's refusals in words, numbers and local times.
import { ApiError } from "./api";

/** A refusal in words. The service's messages are written for people; a few get the operator's context. */
export function refusalWords(err: unknown): string {
  if (!(err instanceof ApiError)) return "Something went wrong in the page; please try again.";
  switch (err.code) {
    case "unauthorized": return "That admin token is wrong.";
    case "admin_disabled": return "This server has no ADMIN_TOKEN set: its admin API, and this console, are off.";
    case "offline": return "The service could not be reached. Is it running?";
    case "unavailable": return "The service is unavailable right now (its database or Redis); try again in a moment.";
    case "capacity_below_sold": {
      const sold = typeof err.fields.sold === "number" ? err.fields.sold : null;
      return sold === null
        ? "The capacity cannot go below the tickets already sold."
        : `The capacity cannot go below the ${count(sold)} ticket${sold === 1 ? "" : "s"} already sold (held or booked). Nothing was changed.`;
    }
    default: return err.message;
  }
}

const numbers = new Intl.NumberFormat();
export const count = (n: number | null | undefined) => (n === null || n === undefined ? "–" : numbers.format(n));

/** "14:03:07" in the operator's time zone. */
export const clock = (iso: string | null) => (iso ? new Date(iso).toLocaleTimeString() : "–");
export const dateTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "–");

/** An ISO date-time as a datetime-local input's value, in local time (minutes). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A datetime-local input's value (local time) as an ISO date-time; null when empty. */
export const fromLocalInput = (value: string): string | null => (value ? new Date(value).toISOString() : null);

/** "on sale", "paused", "starts 19:30". */
export function saleState(type: { paused: boolean; sale_starts_at: string | null }): string {
  if (type.paused) return "paused";
  if (type.sale_starts_at && Date.parse(type.sale_starts_at) > Date.now()) return `starts ${dateTime(type.sale_starts_at)}`;
  return "on sale";
}
