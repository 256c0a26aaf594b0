// The console's calls to the admin API, on the page's own origin, each with the admin token as
// its Bearer header. The token lives in sessionStorage only (this tab, until it closes or the
// operator signs out): never in localStorage, a URL or a log.
import type {
  AdminEvent, AdminEventListing, AdminTicketType, BookingsPage, EventFigures,
} from "../api/schemas";

const TOKEN_KEY = "ticket-queue.admin-token";

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refusal: the service's code, its message, and its extra fields (capacity_below_sold's `sold`). */
export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the service could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

async function send(method: string, path: string, body?: unknown, tokenToTry?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${tokenToTry ?? token.get() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "offline", "The service could not be reached.");
  }
  if (response.ok) return response;
  let answer: { error?: string; message?: string } & Record<string, unknown> = {};
  try {
    answer = await response.json();
  } catch {}
  const { error, message, ...fields } = answer;
  throw new ApiError(response.status, error ?? "http_" + response.status, message ?? `The service answered ${response.status}.`, fields);
}

const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await send(method, path, body)).json() as Promise<T>;

export const api = {
  /** Checks a token before it is kept: the event list is the cheapest call that needs it. */
  tryToken: async (candidate: string) => (await send("GET", "/admin/events", undefined, candidate)).json() as Promise<AdminEventListing>,
  events: () => json<AdminEventListing>("GET", "/admin/events"),
  createEvent: (body: Partial<AdminEvent>) => json<AdminEvent>("POST", "/admin/events", body),
  updateEvent: (eventId: number, body: Record<string, unknown>) => json<AdminEvent>("PATCH", `/admin/events/${eventId}`, body),
  createType: (eventId: number, body: Record<string, unknown>) => json<AdminTicketType>("POST", `/admin/events/${eventId}/ticket-types`, body),
  updateType: (typeId: number, body: Record<string, unknown>) => json<AdminTicketType>("PATCH", `/admin/ticket-types/${typeId}`, body),
  figures: (eventId: number) => json<EventFigures>("GET", `/admin/events/${eventId}/figures`),
  bookings: (eventId: number, cursor: string | null, limit: number) =>
    json<BookingsPage>("GET", `/admin/events/${eventId}/bookings?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  /** Every page of the CSV export, as one CSV (one header row). */
  async bookingsCsv(eventId: number): Promise<string> {
    let text = "";
    let cursor: string | null = null;
    do {
      const query: string = `format=csv&limit=10000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const response = await send("GET", `/admin/events/${eventId}/bookings?${query}`);
      const page = await response.text();
      text += text === "" ? page : page.slice(page.indexOf("\r\n") + 2); // later pages: without their header row
      cursor = response.headers.get("x-next-cursor");
    } while (cursor);
    return text;
  },
};
