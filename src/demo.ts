// A demo event so a newcomer has something to book; only when the database has no events.
import type { Sql } from "./db";

export async function seedDemo(sql: Sql): Promise<boolean> {
  return sql.begin(async (sql) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('ticket-queue:demo'))`;
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM events`;
    if (count > 0) return false;
    const [event] = await sql`
      INSERT INTO events (name, description, venue, starts_at)
      VALUES ('Demo Night', 'A show to try the queue with', 'The Demo Hall', now() + interval '30 days')
      RETURNING id`;
    const types = [
      { name: "General Admission", price: 45, capacity: 500, per_user_limit: 4 },
      { name: "Front Row", price: 120, capacity: 20, per_user_limit: 2 },
      { name: "VIP Lounge", price: 300, capacity: 5, per_user_limit: 1 },
    ].map((t) => ({ ...t, event_id: event!.id, stock: t.capacity }));
    await sql`INSERT INTO ticket_types ${sql(types, "event_id", "name", "price", "capacity", "stock", "per_user_limit")}`;
    return true;
  });
}
