// GET /admin/events: every event with its ticket types as the operator set them (hold length,
// pause, admission limits included), newest event first: the console's list. The public
// GET /events is the buyers' view: a second old, and without the operator's fields.
import type { Sql } from "../store/db";
import { during } from "../core/errors";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { eventOf, TYPE_COLUMNS, typeOf } from "./events";
import type { AdminEventListing } from "../api/schemas";

export const adminListingRoutes = (s: { config: Config; sql: Sql }) =>
  adminScope(s).get("/events", () => during("PostgreSQL", () => listEvents(s.sql)));

export async function listEvents(sql: Sql): Promise<AdminEventListing> {
  const [events, types] = await Promise.all([
    sql`SELECT id, name, description, venue, starts_at, currency FROM events ORDER BY id DESC`,
    sql`SELECT ${sql.unsafe(TYPE_COLUMNS)} FROM ticket_types ORDER BY id`,
  ]);
  const byEvent = new Map<number, ReturnType<typeof typeOf>[]>();
  for (const row of types) {
    const type = typeOf(row);
    byEvent.set(type.event_id, [...(byEvent.get(type.event_id) ?? []), type]);
  }
  return events.map((row) => ({ ...eventOf(row), ticket_types: byEvent.get(row.id) ?? [] }));
}
