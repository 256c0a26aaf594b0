// A demo event so a newcomer has something to book; only when the database has no events.
// Made through the admin API's own functions, so the demo is what an operator would create.
import { createEvent, createTicketType } from "../admin/events";
import type { Sql } from "../store/db";

/** `currency`: the demo event's (CURRENCY). */
export async function seedDemo(sql: Sql, currency = "EUR"): Promise<boolean> {
  return sql.begin(async (sql) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('ticket-queue:demo'))`;
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM events`;
    if (count > 0) return false;
    const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
    const event = await createEvent(sql, {
      name: "Demo Night", description: "A show to try the queue with", venue: "The Demo Hall", starts_at: startsAt, currency,
    });
    await createTicketType(sql, event.id, { name: "General Admission", price: 45, capacity: 500, per_user_limit: 4 });
    await createTicketType(sql, event.id, { name: "Front Row", price: 120, capacity: 20, per_user_limit: 2 });
    await createTicketType(sql, event.id, { name: "VIP Lounge", price: 300, capacity: 5, per_user_limit: 1 });
    return true;
  });
}
