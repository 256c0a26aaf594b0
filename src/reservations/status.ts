// Status of a token in O(1): one Redis step, PostgreSQL only when Redis cannot tell.
import { outageOf, Unavailable } from "../errors";
import type { Services } from "../services";
import type { TokenParts } from "../tokens";
import { findHold, type HoldRow } from "./holds";

export type Status =
  | "queued" | "reserved" | "confirmed" | "expired" | "released" | "sold_out" | "duplicate"
  | "invalid" | "limit_reached" | "lost";

export type StatusAnswer = {
  status: Status;
  ticket_type_id: number;
  quantity?: number;
  position?: number;
  estimated_wait_seconds?: number;
  expires_at?: string;
  booking_id?: number;
  message: string;
};

const MESSAGES: Record<Status, string> = {
  queued: "You are in the queue; keep this token and check back.",
  reserved: "Tickets are held for you; confirm them before expires_at.",
  confirmed: "Your booking is confirmed.",
  expired: "Your hold expired before it was confirmed; the tickets went back on sale.",
  released: "You gave this place or hold back.",
  sold_out: "Sold out: there are no tickets left for you.",
  duplicate: "You already hold tickets of this type with another token; use that one.",
  invalid: "Your place could not be served: its request was damaged. Join the queue again.",
  limit_reached: "You already booked as many tickets of this type as one person may.",
  lost: "Your place in the queue was lost; join the queue again.",
};

export async function reservationStatus(s: Services, parts: TokenParts, token: string): Promise<StatusAnswer> {
  const { ticketTypeId, id } = parts;
  const k = s.keys(ticketTypeId);
  let found: string[];
  try {
    found = ((await s.redis.tqLookup(k.record(id), k.meta, k.batchPrefix)) as string).split("\t");
  } catch (err) {
    if (!outageOf(err)) throw err;
    // Redis is down: a hold is still known to PostgreSQL; a queue place is not.
    return fromPostgres(s, ticketTypeId, token, true);
  }
  const [state, quantity, place, expiresAt, bookingId, served, rate] = found;
  const answer = (status: Status, extra: Partial<StatusAnswer> = {}): StatusAnswer => ({
    status, ticket_type_id: ticketTypeId, quantity: Number(quantity), ...extra, message: MESSAGES[status],
  });

  switch (state) {
    case "queued":
    case "pending": {
      const position = Math.max(1, Number(place) - Number(served));
      const perSecond = Number(rate);
      return answer("queued", {
        position,
        ...(perSecond > 0 && { estimated_wait_seconds: Math.ceil(position / perSecond) }),
      });
    }
    case "reserved":
      if (Number(expiresAt) > Date.now()) {
        return answer("reserved", { expires_at: new Date(Number(expiresAt)).toISOString() });
      }
      return fromPostgres(s, ticketTypeId, token); // past its deadline: PostgreSQL knows how it ended
    case "confirmed":
      return answer("confirmed", { booking_id: Number(bookingId) });
    case "expired":
    case "released":
    case "sold_out":
    case "duplicate":
    case "invalid":
    case "limit_reached":
      return answer(state);
    default:
      return fromPostgres(s, ticketTypeId, token);
  }
}

async function fromPostgres(
  s: Services, ticketTypeId: number, token: string, redisDown = false,
): Promise<StatusAnswer> {
  const hold = await findHold(s.sql, token);
  if (hold) return holdAnswer(ticketTypeId, hold);
  if (redisDown) throw new Unavailable("Redis");
  const type = await s.catalog.ticketType(ticketTypeId);
  const status: Status = type?.status === "sold_out" ? "sold_out" : "lost";
  return { status, ticket_type_id: ticketTypeId, message: MESSAGES[status] };
}

export function holdAnswer(ticketTypeId: number, hold: HoldRow): StatusAnswer {
  const base = { ticket_type_id: ticketTypeId, quantity: hold.quantity };
  if (hold.status === "held" && !hold.lapsed) {
    return { ...base, status: "reserved", expires_at: hold.expires_at.toISOString(), message: MESSAGES.reserved };
  }
  if (hold.status === "confirmed") {
    return { ...base, status: "confirmed", booking_id: Number(hold.booking_id), message: MESSAGES.confirmed };
  }
  const status = hold.status === "released" ? "released" : "expired";
  return { ...base, status, message: MESSAGES[status] };
}
