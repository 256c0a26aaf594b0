// Reading a hold from PostgreSQL, the truth, when Redis cannot answer or must not decide.
import type { Sql } from "../store/db";
import { during } from "../core/errors";
import type { HoldStatus } from "../domain/states";

export type HoldRow = {
  status: HoldStatus;
  quantity: number;
  expires_at: Date;
  /** held, but its deadline has passed (the cleaner has not got to it yet) */
  lapsed: boolean;
  /** seconds the shop added (it is taking the payment: the buyer may not release) */
  extended_seconds: number;
  booking_id: number | null;
  booking_ref: string | null;
  /** confirmed, or cancelled since (the hold stays confirmed) */
  booking_status: "confirmed" | "cancelled" | null;
  amount: number | null;
  currency: string | null;
  confirmed_at: Date | null;
};

export async function findHold(sql: Sql, token: string): Promise<HoldRow | undefined> {
  const [row] = await during("PostgreSQL", () => sql<HoldRow[]>`
    SELECT r.status, r.quantity, r.expires_at, r.expires_at <= now() AS lapsed, r.extended_seconds,
           b.id AS booking_id, b.booking_ref, b.status AS booking_status,
           b.amount::float8 AS amount, b.currency, b.created_at AS confirmed_at
    FROM reservations r LEFT JOIN bookings b ON b.token = r.token
    WHERE r.token = ${token}`);
  return row;
}
