// GET /shop/holds/:token: what the shop needs to charge for a hold, read from PostgreSQL, the
// truth: who holds what, at which price and currency, until when, and its booking if it has one.
import type { Sql } from "../store/db";
import { during, fail } from "../core/errors";
import type { ShopHold } from "../api/schemas";

type HoldRow = Omit<ShopHold, "queue_token" | "status" | "expires_at" | "booking_id" | "booking_ref"> & {
  hold_status: string;
  lapsed: boolean;
  expires_at: Date;
  booking_id: number | null;
  booking_ref: string | null;
  booking_status: string | null;
};

export const noHold = () => fail("no_hold");

/** The hold of `token` (already verified as one of ours); 404 no_hold when PostgreSQL has none. */
export async function shopHold(sql: Sql, token: string): Promise<ShopHold> {
  const [row] = await during("PostgreSQL", () => sql<HoldRow[]>`
    SELECT r.status AS hold_status, r.expires_at <= now() AS lapsed, r.user_id, r.ticket_type_id, r.quantity,
           r.expires_at, r.extended_seconds, t.name AS ticket_type_name, t.price::float8 AS unit_price,
           coalesce(b.amount, t.price * r.quantity)::float8 AS amount, e.id AS event_id, e.name AS event_name,
           coalesce(b.currency, e.currency) AS currency, b.id AS booking_id, b.booking_ref, b.status AS booking_status
    FROM reservations r
    JOIN ticket_types t ON t.id = r.ticket_type_id
    JOIN events e ON e.id = t.event_id
    LEFT JOIN bookings b ON b.token = r.token
    WHERE r.token = ${token}`);
  if (!row) throw noHold();
  const { hold_status, lapsed, booking_status, booking_id, booking_ref, expires_at, ...rest } = row;
  return {
    queue_token: token,
    status: statusOf(hold_status, lapsed, booking_status),
    ...rest,
    expires_at: expires_at.toISOString(),
    ...(booking_id !== null && { booking_id: Number(booking_id), booking_ref: booking_ref! }),
  };
}

function statusOf(hold: string, lapsed: boolean, booking: string | null): ShopHold["status"] {
  if (hold === "held") return lapsed ? "expired" : "reserved"; // past its deadline: the cleaner's to expire
  if (hold === "confirmed") return booking === "cancelled" ? "cancelled" : "confirmed";
  return hold === "released" ? "released" : "expired";
}
