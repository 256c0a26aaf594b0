// Redis catches up with PostgreSQL: a hold that ended while Redis was unreachable, or whose
// process died between the PostgreSQL commit and the Redis tidy, is still marked reserved in
// Redis and indexed in deadlines:{T}. Those past their deadline are looked up and tidied.
import type { Ended } from "../reservations/finish";
import { finishInRedis } from "../reservations/finish";
import type { Services } from "../services";

const LOOK_BACK_MS = 2000;
const PER_TYPE = 500;

export async function reconcileRedis(s: Pick<Services, "sql" | "redis" | "keys" | "tokens">): Promise<number> {
  const ids = (await s.sql<{ id: number }[]>`SELECT id FROM ticket_types`).map((r) => r.id);
  let tidied = 0;
  for (const ticketTypeId of ids) {
    const k = s.keys(ticketTypeId);
    const due = await s.redis.zrangebyscore(k.deadlines, "-inf", Date.now() - LOOK_BACK_MS, "LIMIT", 0, PER_TYPE);
    if (due.length === 0) continue;
    const tokens = due.map((id) => s.tokens.sign(ticketTypeId, id));
    // A token PostgreSQL does not know at all has no hold to keep: its index entry goes too.
    const rows = await s.sql<{ token: string; status: string | null; booking_id: number | null }[]>`
      SELECT d.token, r.status, b.id AS booking_id
      FROM unnest(${tokens}::text[]) AS d(token)
      LEFT JOIN reservations r ON r.token = d.token
      LEFT JOIN bookings b ON b.token = d.token
      WHERE r.status IS DISTINCT FROM 'held'`;
    const ended: Ended[] = rows.map((r) => ({
      token: r.token,
      ticketTypeId,
      state: (r.status ?? "expired") as Ended["state"],
      bookingId: r.booking_id,
    }));
    await finishInRedis(s, ended);
    tidied += ended.length;
  }
  return tidied;
}
