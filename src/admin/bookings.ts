// GET /admin/events/:id/bookings: an event's bookings, ordered by booking id, a page at a time
// (`limit`, default 1000, at most 10,000), as JSON or CSV. The cursor is opaque to clients:
// base64url of "<event id>:<last booking id seen>"; one that does not decode to exactly that,
// or names another event, is 400 invalid_cursor. Paging by id is keyset paging: bookings made
// while someone pages show up on a later page, none is skipped or repeated.
import { Type } from "@sinclair/typebox";
import type { Sql } from "../store/db";
import { during, fail } from "../core/errors";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { IdParams, pathId } from "./ids";
import type { Booking } from "../api/schemas";

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;

/** The query fields of every paged admin route (this export, the audit log). */
export const pagingFields = {
  cursor: Type.Optional(Type.String({ maxLength: 100, description: "expected a cursor from a previous page" })),
  limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,4}$", description: `expected a whole number from 1 to ${MAX_LIMIT}` })),
};

const BookingsQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")], { description: "expected csv or json" })),
    ...pagingFields,
  },
  { description: "expected format, cursor and limit" },
);

export const CSV_COLUMNS = [
  "booking_id", "booking_ref", "order_ref", "user_id", "ticket_type_id", "ticket_type_name", "quantity", "amount", "currency", "status",
  "created_at", "cancelled_at",
] as const;

export const cursor = {
  encode: (eventId: number, lastId: number) => Buffer.from(`${eventId}:${lastId}`).toString("base64url"),
  /** The last booking id a cursor names, or null unless it is exactly one this event made. */
  decode(eventId: number, text: string): number | null {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
    const match = Buffer.from(text, "base64url").toString("latin1").match(/^([1-9][0-9]{0,9}):([1-9][0-9]{0,15})$/);
    if (!match || Number(match[1]) !== eventId) return null;
    const lastId = Number(match[2]);
    return cursor.encode(eventId, lastId) === text ? lastId : null;
  },
};

export const adminBookingsRoutes = (s: { config: Config; sql: Sql }) =>
  adminScope(s).get(
    "/events/:id/bookings",
    async ({ params, query, set }) => {
      const limit = query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit);
      if (limit > MAX_LIMIT) throw fail("invalid_input", `limit: expected a whole number from 1 to ${MAX_LIMIT}`);
      const eventId = pathId(params.id);
      let after = 0;
      if (eventId !== null && query.cursor !== undefined) {
        const decoded = cursor.decode(eventId, query.cursor);
        if (decoded === null) throw fail("invalid_cursor", "this export");
        after = decoded;
      }
      const page = eventId === null ? null : await during("PostgreSQL", () => bookingsPage(s.sql, eventId, after, limit));
      if (!page) throw fail("unknown_event");
      const next = page.more ? cursor.encode(eventId!, page.bookings.at(-1)!.booking_id) : null;
      if ((query.format ?? "json") === "json") return { bookings: page.bookings, next_cursor: next };

      set.headers["content-type"] = "text/csv; charset=utf-8";
      set.headers["content-disposition"] = `attachment; filename="event-${eventId}-bookings.csv"`;
      if (next) {
        const link = `/admin/events/${eventId}/bookings?format=csv&limit=${limit}&cursor=${next}`;
        set.headers["link"] = `<${link}>; rel="next"`;
        set.headers["x-next-cursor"] = next;
      }
      return toCsv(page.bookings);
    },
    { params: IdParams, query: BookingsQuery },
  );

/** One page after booking id `after`, and whether more follow; null when the event does not exist. */
export async function bookingsPage(
  sql: Sql, eventId: number, after: number, limit: number,
): Promise<{ bookings: Booking[]; more: boolean } | null> {
  const rows = await sql<(Omit<Booking, "created_at" | "cancelled_at"> & { created_at: Date; cancelled_at: Date | null })[]>`
    SELECT b.id AS booking_id, b.booking_ref, b.order_ref, b.user_id, b.ticket_type_id, t.name AS ticket_type_name, b.quantity,
           b.amount::float8 AS amount, b.currency, b.status, b.created_at, b.cancelled_at
    FROM bookings b
    JOIN ticket_types t ON t.id = b.ticket_type_id
    WHERE t.event_id = ${eventId} AND b.id > ${after}
    ORDER BY b.id
    LIMIT ${limit + 1}`;
  if (rows.length === 0) {
    const [event] = await sql`SELECT 1 FROM events WHERE id = ${eventId}`;
    if (!event) return null;
  }
  const more = rows.length > limit;
  const bookings = rows.slice(0, limit).map((r) => ({
    ...r, created_at: r.created_at.toISOString(), cancelled_at: r.cancelled_at?.toISOString() ?? null,
  }));
  return { bookings, more };
}

/**
 * RFC 4180: CRLF line ends, a header row; text cells always quoted, their quotes doubled. A
 * text cell a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
 * return) gets a leading apostrophe first (OWASP's advice on CSV injection). Spreadsheets skip
 * spaces and invisible characters before a formula, so " =1+1" or a BOM, NBSP or zero-width
 * space before the = is guarded too. JSON keeps the values as they are.
 */
export function toCsv(bookings: Booking[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const b of bookings) {
    lines.push([
      b.booking_id, text(b.booking_ref), b.order_ref === null ? "" : text(b.order_ref), text(b.user_id), b.ticket_type_id,
      text(b.ticket_type_name), b.quantity, b.amount ?? "", b.currency ?? "", b.status, b.created_at, b.cancelled_at ?? "",
    ].join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

// after any run of whitespace (Unicode spaces, line breaks, tabs), format characters (BOM,
// zero-width space, bidi marks) or controls
const FORMULA_START = /^[\t\r]|^[\s\p{Z}\p{Cf}\p{Cc}]*[=+\-@]/u;

export function text(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return `"${safe.replaceAll('"', '""')}"`;
}
