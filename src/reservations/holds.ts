// Reading a hold from PostgreSQL, the truth, when Redis cannot answer or must not decide.
import type { Sql } from "../db";
import { during } from "../errors";
import type { HoldStatus } from "../states";

export type HoldRow = {
  status: HoldStatus;
  quantity: number;
  expires_at: Date;
  /** held, but its deadline has passed (the cleaner has not got to it yet) */
  lapsed: boolean;
  booking_id: number | null;
  booking_ref: string | null;
  confirmed_at: Date | null;
};

export async function findHold(sql: Sql, token: string): Promise<HoldRow | undefined> {
  const [row] = await during("PostgreSQL", () => sql<HoldRow[]>`
    SELECT r.status, r.quantity, r.expires_at, r.expires_at <= now() AS lapsed,
           b.id AS booking_id, b.booking_ref, b.created_at AS confirmed_at
    FROM reservations r LEFT JOIN bookings b ON b.token = r.token
    WHERE r.token = ${token}`);
  return row;
}
