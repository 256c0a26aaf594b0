// Confirm: PostgreSQL decides with one conditional statement that also writes the booking;
// Redis follows. A repeat returns the same booking. Every other state answers as
// src/states.ts says (CONFIRM_REFUSALS).
import { crashPoint } from "../crash-points";
import { during } from "../errors";
import type { Services } from "../services";
import { CONFIRM_REFUSALS } from "../states";
import type { TokenParts } from "../tokens";
import { finishQuietly } from "./finish";
import { findHold } from "./holds";
import { redisState, refusal } from "./without-hold";

export type Confirmation = {
  status: "confirmed";
  booking_id: number;
  queue_token: string;
  ticket_type_id: number;
  quantity: number;
  confirmed_at: string;
};

export async function confirmHold(s: Services, parts: TokenParts, token: string, retried = false): Promise<Confirmation> {
  const [booked] = await during("PostgreSQL", () => s.sql<{ id: number; quantity: number; created_at: Date }[]>`
    WITH confirmed AS (
      UPDATE reservations SET status = 'confirmed', ended_at = now()
      WHERE token = ${token} AND status = 'held' AND expires_at > now()
      RETURNING token, user_id, ticket_type_id, quantity
    )
    INSERT INTO bookings (token, user_id, ticket_type_id, quantity)
    SELECT token, user_id, ticket_type_id, quantity FROM confirmed
    RETURNING id, quantity, created_at`);
  const answer = (id: number, quantity: number, at: Date): Confirmation => ({
    status: "confirmed",
    booking_id: Number(id),
    queue_token: token,
    ticket_type_id: parts.ticketTypeId,
    quantity,
    confirmed_at: at.toISOString(),
  });

  if (booked) {
    s.metrics.confirmations.inc(parts.ticketTypeId);
    crashPoint("confirm:booked");
    // No token or user id in the log: a user id may be an e-mail address.
    s.log.info("booked", { ticket_type_id: parts.ticketTypeId, booking_id: Number(booked.id), quantity: booked.quantity });
    await finishQuietly(s, [{ token, ticketTypeId: parts.ticketTypeId, state: "confirmed", bookingId: booked.id }]);
    return answer(booked.id, booked.quantity, booked.created_at);
  }

  const hold = await findHold(s.sql, token);
  if (hold?.status === "confirmed") return answer(hold.booking_id!, hold.quantity, hold.confirmed_at!);
  if (hold?.status === "released") throw refusal(CONFIRM_REFUSALS, "released");
  // A live hold the update did not see: its grant committed in between. Once more, then it is.
  if (hold?.status === "held" && !hold.lapsed && !retried) return confirmHold(s, parts, token, true);
  if (hold) throw refusal(CONFIRM_REFUSALS, "expired"); // expired, or held past its deadline
  throw refusal(CONFIRM_REFUSALS, await redisState(s, parts));
}
