// The page's calls to the service, on the page's own origin. Every refusal becomes an ApiError
// carrying the service's code, so the page can say it in words (words.ts).

// The answers' types are the service's schemas' (type only: nothing of TypeBox is bundled).
import type { Confirmation, Event, FieldsOf, JoinAnswer, StatusAnswer } from "../api/schemas";

export type PlaceStatus = StatusAnswer["status"];
/**
 * A status as the page reads it: any field of any status answer, only status and ticket_type_id
 * sure, as the page makes some itself (after a confirm or a release).
 */
export type StatusReading = Pick<StatusAnswer, "status" | "ticket_type_id"> & FieldsOf<StatusAnswer>;

/** Where a place ends for the page: it stops following (a booking may still be cancelled, and reads so when asked again). */
export const FINAL_STATUSES: readonly PlaceStatus[] = [
  "confirmed", "cancelled", "expired", "released", "sold_out", "duplicate", "invalid", "limit_reached", "lost",
];
export const isFinal = (status: PlaceStatus) => FINAL_STATUSES.includes(status);

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the service could not be reached at all. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again, when the service said (503, 429) or we chose (offline). */
    readonly retryAfter: number | null,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** Worth repeating as it was: the service is busy, out of reach, or asks this client to slow down (429), not refusing. */
  get passing(): boolean {
    return this.status === 503 || this.status === 429 || this.status === 0;
  }
}

const OFFLINE_RETRY_SECONDS = 2;
const LONGEST_WAIT_SECONDS = 60;

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "offline", "the service cannot be reached", OFFLINE_RETRY_SECONDS);
  }
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.ok) return data as T;
  const code = typeof data.error === "string" ? data.error : `http_${response.status}`;
  const message = typeof data.message === "string" ? data.message : response.statusText;
  throw new ApiError(response.status, code, message, retryAfterOf(response), data);
}

/** Retry-After in seconds (a number or an HTTP date), kept between 1 s and a minute. */
function retryAfterOf(response: Response): number | null {
  const header = response.headers.get("retry-after");
  if (header === null) return response.status === 503 ? OFFLINE_RETRY_SECONDS : null;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return OFFLINE_RETRY_SECONDS;
  return Math.min(LONGEST_WAIT_SECONDS, Math.max(1, Math.ceil(seconds)));
}

export const api = {
  events: () => call<Event[]>("GET", "/events"),
  join: (userId: string, ticketTypeId: number, quantity: number) =>
    call<JoinAnswer>("POST", "/queue/join", { user_id: userId, ticket_type_id: ticketTypeId, quantity }),
  status: (token: string) => call<StatusAnswer>("GET", `/reservation/status?token=${encodeURIComponent(token)}`),
  confirm: (token: string) => call<Confirmation>("POST", "/reservation/confirm", { token }),
  release: (token: string) => call<StatusAnswer>("POST", "/reservation/release", { token }),
};

/**
 * Runs `attempt` until it answers or is refused; while the service is busy (503) or out of
 * reach it waits the time the service gave, telling `waiting` each time, and tries again.
 */
export async function untilAnswered<T>(attempt: () => Promise<T>, waiting: (seconds: number, error: ApiError) => void): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ApiError) || !err.passing) throw err;
      const seconds = err.retryAfter ?? OFFLINE_RETRY_SECONDS;
      waiting(seconds, err);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}
