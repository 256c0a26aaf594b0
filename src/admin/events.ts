// The operator's events and ticket types: create them and change them, also mid-sale. The
// plain functions below are what the routes and `--demo` (src/ops/demo.ts) both call.
//
// A capacity change moves the stock by the same amount, in one transaction under the ticket
// type's row lock (taken first, as the grant takes it), so capacity = stock + held + confirmed
// (I2) holds at every moment. Capacity never drops below what is held and confirmed.
//
// Each change through the routes is audited in its own transaction (src/admin/audit.ts).
import { Type, type Static } from "@sinclair/typebox";
import type postgres from "postgres";
import type { Sql } from "../store/db";
import { during, fail, failWith } from "../core/errors";
import type { Config } from "../config/config";
import type { Logger } from "../core/log";
import type { KeysOf, RedisClient } from "../store/redis";
import type { Catalog } from "../events/catalog";
import { auditContext, inTransaction, logChange, recordChange, type AuditContext } from "./audit";
import { adminScope } from "./auth";
import { pathId } from "./ids";
import { publishSaleStart } from "../sale-start/start-in-redis";
import { EVERY_STREAM } from "../streams/notices";
import type { AdminEvent, AdminTicketType } from "../api/schemas";

/** A connection or a transaction: the demo creates its event and types in one. */
export type Db = Sql | postgres.TransactionSql<{}>;

// TypeBox's own types, strict (no "5" for 5). Each description is what a refusal says about
// its field (app.ts), so nothing a client sends is echoed.
const MAX_PRICE = 10_000_000;
const MAX_CAPACITY = 10_000_000;
// PostgreSQL's text cannot hold U+0000; names and venues are one line, descriptions may have lines
export const ONE_LINE = "^[^\\u0000-\\u001f\\u007f]*$";
export const LINES = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$";
const fields = {
  name: Type.String({
    minLength: 1, maxLength: 200, pattern: ONE_LINE,
    description: "expected a text of 1 to 200 characters, not only spaces, without control characters",
  }),
  description: Type.String({ maxLength: 2000, pattern: LINES, description: "expected a text of at most 2000 characters, without control characters but line breaks and tabs" }),
  venue: Type.String({ maxLength: 200, pattern: ONE_LINE, description: "expected a text of at most 200 characters, without control characters" }),
  starts_at: Type.Union(
    [
      Type.String({
        maxLength: 40,
        pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$",
      }),
      Type.Null(),
    ],
    { description: "expected an ISO 8601 date-time with a time zone (years 1900 to 9999), e.g. 2026-12-31T20:00:00Z, or null" },
  ),
  price: Type.Number({ minimum: 0, maximum: MAX_PRICE, description: "expected a number from 0 to 10000000 with at most 2 decimals" }),
  capacity: Type.Integer({ minimum: 0, maximum: MAX_CAPACITY, description: "expected a whole number from 0 to 10000000" }),
  per_user_limit: Type.Integer({ minimum: 1, maximum: 1000, description: "expected a whole number from 1 to 1000" }),
  paused: Type.Boolean({ description: "expected true or false" }),
  currency: Type.String({ pattern: "^[A-Z]{3}$", description: "expected an ISO 4217 currency code: three capital letters, e.g. EUR" }),
  // null: RESERVATION_TTL_SECONDS
  hold_seconds: Type.Union([Type.Integer({ minimum: 1, maximum: 86_400 }), Type.Null()], {
    description: "expected a whole number of seconds from 1 to 86400, or null for RESERVATION_TTL_SECONDS",
  }),
  // null takes the ceiling away
  max_active_holds: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_CAPACITY }), Type.Null()], {
    description: "expected a whole number from 1 to 10000000, or null for no ceiling",
  }),
  holds_per_minute: Type.Union([Type.Integer({ minimum: 1, maximum: 10_000_000 }), Type.Null()], {
    description: "expected a whole number from 1 to 10000000, or null for no ceiling",
  }),
};
const strict = { additionalProperties: false } as const;

export const CreateEventBody = Type.Object(
  {
    name: fields.name, description: Type.Optional(fields.description), venue: Type.Optional(fields.venue),
    starts_at: Type.Optional(fields.starts_at), currency: Type.Optional(fields.currency),
  },
  { ...strict, description: "expected a JSON object {name, description?, venue?, starts_at?, currency?} and nothing else" },
);
export const UpdateEventBody = Type.Partial(CreateEventBody, {
  ...strict,
  minProperties: 1,
  description: "expected a JSON object with at least one of {name, description, venue, starts_at, currency} and nothing else",
});
const saleStartsAt = Type.Union([fields.starts_at.anyOf[0]!, Type.Null()], {
  description: "expected an ISO 8601 date-time with a time zone (years 1900 to 9999), e.g. 2026-12-31T20:00:00Z, or null for on sale now",
});
const ticketTypeFields = {
  name: fields.name,
  price: fields.price,
  capacity: fields.capacity,
  per_user_limit: Type.Optional(fields.per_user_limit),
  sale_starts_at: Type.Optional(saleStartsAt),
  max_active_holds: Type.Optional(fields.max_active_holds),
  holds_per_minute: Type.Optional(fields.holds_per_minute),
  hold_seconds: Type.Optional(fields.hold_seconds),
};
export const CreateTicketTypeBody = Type.Object(ticketTypeFields, {
  ...strict,
  description: "expected a JSON object {name, price, capacity, per_user_limit?, sale_starts_at?, max_active_holds?, holds_per_minute?, hold_seconds?} and nothing else",
});
export const UpdateTicketTypeBody = Type.Partial(Type.Object({ ...ticketTypeFields, paused: fields.paused }), {
  ...strict,
  minProperties: 1,
  description:
    "expected a JSON object with at least one of {name, price, capacity, per_user_limit, sale_starts_at, paused, max_active_holds, holds_per_minute, hold_seconds} and nothing else",
});

export type EventInput = Static<typeof CreateEventBody>;
export type EventPatch = Static<typeof UpdateEventBody>;
export type TicketTypeInput = Static<typeof CreateTicketTypeBody>;
export type TicketTypePatch = Static<typeof UpdateTicketTypeBody>;

const DEFAULT_PER_USER_LIMIT = 4; // the column's default (sql/0001)

/** What the schemas cannot say: a name not blank, texts well formed, cents at most, a date-time that exists (no 2026-02-30). */
function checkValues(input: {
  name?: string; description?: string; venue?: string; price?: number; starts_at?: string | null; sale_starts_at?: string | null;
}): void {
  if (input.name !== undefined && input.name.trim() === "") throw fail("invalid_input", `name: ${fields.name.description}`);
  // a lone surrogate ("\ud800" in JSON) would be stored as U+FFFD: refused, not changed
  for (const key of ["name", "description", "venue"] as const) {
    if (input[key] !== undefined && !input[key].isWellFormed()) throw fail("invalid_input", `${key}: ${fields[key].description}`);
  }
  if (input.price !== undefined && Math.abs(Math.round(input.price * 100) - input.price * 100) > 1e-6) {
    throw fail("invalid_input", `price: ${fields.price.description}`);
  }
  if (typeof input.starts_at === "string" && !validDateTime(input.starts_at)) {
    throw fail("invalid_input", `starts_at: ${fields.starts_at.description}`);
  }
  if (typeof input.sale_starts_at === "string" && !validDateTime(input.sale_starts_at)) {
    throw fail("invalid_input", `sale_starts_at: ${saleStartsAt.description}`);
  }
}

function validDateTime(text: string): boolean {
  const [, y, m, d, hh, mm, zone] = text.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/) ?? [];
  const at = new Date(text);
  if (!zone || Number.isNaN(at.getTime()) || Number(y) < 1900) return false;
  const offsetMinutes = zone === "Z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  if (Number(zone.slice(4, 6) || 0) >= 60 || Math.abs(offsetMinutes) > 18 * 60) return false;
  // Date rolls 2026-02-30 over to March 2: the date and time written must be the ones parsed
  const local = new Date(at.getTime() + offsetMinutes * 60_000);
  return local.getUTCFullYear() === Number(y) && local.getUTCMonth() + 1 === Number(m) && local.getUTCDate() === Number(d)
    && local.getUTCHours() === Number(hh) && local.getUTCMinutes() === Number(mm);
}

// (a path that is no id at all is not repeated back: nothing a client sends is echoed)
const unknownEvent = () => fail("unknown_event");
const unknownTicketType = () => fail("unknown_ticket_type");

const EVENT_FIELDS = ["name", "description", "venue", "starts_at", "currency"] as const;
export const eventOf = (row: any): AdminEvent => ({
  id: row.id,
  name: row.name,
  description: row.description,
  venue: row.venue,
  starts_at: row.starts_at ? (row.starts_at as Date).toISOString() : null,
  currency: row.currency,
});

export async function createEvent(sql: Db, input: EventInput, audit?: AuditContext): Promise<AdminEvent> {
  checkValues(input);
  return inTransaction(sql, async (tx) => {
    const [row] = await tx`
      INSERT INTO events (name, description, venue, starts_at, currency)
      VALUES (${input.name}, ${input.description ?? ""}, ${input.venue ?? ""}, ${input.starts_at ?? null}, coalesce(${input.currency ?? null}::text, 'EUR'))
      RETURNING id, name, description, venue, starts_at, currency`;
    const event = eventOf(row);
    await recordChange(tx, audit, "event", null, event, EVENT_FIELDS);
    return event;
  });
}

/** An event without a currency gets `defaultCurrency` (CURRENCY), else the column's default. */
export const withCurrency = (input: EventInput, defaultCurrency: string): EventInput => ({ ...input, currency: input.currency ?? defaultCurrency });

/** Changes the fields given; throws 404 unknown_event. */
export async function updateEvent(sql: Db, id: number, patch: EventPatch, audit?: AuditContext): Promise<AdminEvent> {
  checkValues(patch);
  const has = (k: keyof EventPatch) => patch[k] !== undefined;
  return inTransaction(sql, async (tx) => {
    // locked first, so the audit's old values are the ones this change replaces; NO KEY UPDATE
    // is the UPDATE's own lock: a ticket type being added to the event does not wait on it
    const [locked] = await tx`SELECT id, name, description, venue, starts_at, currency FROM events WHERE id = ${id} FOR NO KEY UPDATE`;
    if (!locked) throw unknownEvent();
    const [row] = await tx`
      UPDATE events SET
        name = CASE WHEN ${has("name")} THEN ${patch.name ?? null}::text ELSE name END,
        description = CASE WHEN ${has("description")} THEN ${patch.description ?? null}::text ELSE description END,
        venue = CASE WHEN ${has("venue")} THEN ${patch.venue ?? null}::text ELSE venue END,
        starts_at = CASE WHEN ${has("starts_at")} THEN ${patch.starts_at ?? null}::timestamptz ELSE starts_at END,
        currency = CASE WHEN ${has("currency")} THEN ${patch.currency ?? null}::text ELSE currency END
      WHERE id = ${id}
      RETURNING id, name, description, venue, starts_at, currency`;
    const event = eventOf(row);
    await recordChange(tx, audit, "event", eventOf(locked), event, Object.keys(patch));
    return event;
  });
}

export const TYPE_COLUMNS =
  "id, event_id, name, price::float8 AS price, capacity, stock, per_user_limit, sale_starts_at, paused, max_active_holds, holds_per_minute, hold_seconds";
const TYPE_FIELDS = [
  "event_id", "name", "price", "capacity", "stock", "per_user_limit", "sale_starts_at", "paused", "max_active_holds", "holds_per_minute",
  "hold_seconds",
] as const;
export const typeOf = (row: any): AdminTicketType => ({
  id: row.id, event_id: row.event_id, name: row.name, price: row.price,
  capacity: row.capacity, stock: row.stock, per_user_limit: row.per_user_limit,
  sale_starts_at: row.sale_starts_at ? (row.sale_starts_at as Date).toISOString() : null,
  paused: row.paused, max_active_holds: row.max_active_holds, holds_per_minute: row.holds_per_minute,
  hold_seconds: row.hold_seconds,
});

/** A ticket type on sale at once, its whole capacity in stock; throws 404 unknown_event. */
export async function createTicketType(sql: Db, eventId: number, input: TicketTypeInput, audit?: AuditContext): Promise<AdminTicketType> {
  checkValues(input);
  return inTransaction(sql, async (tx) => {
    const [row] = await tx`
      INSERT INTO ticket_types (event_id, name, price, capacity, stock, per_user_limit, sale_starts_at, max_active_holds, holds_per_minute, hold_seconds)
      SELECT id, ${input.name}, ${input.price}, ${input.capacity}, ${input.capacity},
             ${input.per_user_limit ?? DEFAULT_PER_USER_LIMIT}, ${input.sale_starts_at ?? null},
             ${input.max_active_holds ?? null}, ${input.holds_per_minute ?? null}, ${input.hold_seconds ?? null}
      FROM events WHERE id = ${eventId}
      RETURNING ${tx.unsafe(TYPE_COLUMNS)}`;
    if (!row) throw unknownEvent();
    const type = typeOf(row);
    await recordChange(tx, audit, "ticket_type", null, type, TYPE_FIELDS);
    return type;
  });
}

/**
 * Changes the fields given. A new capacity moves the stock by the same delta, under the row
 * lock; below what is held and confirmed it is refused (409 capacity_below_sold) and nothing
 * changes. `beforeCommit` runs last, still under the lock: should it fail, nothing changes.
 * Throws 404 unknown_ticket_type.
 */
export async function updateTicketType(
  sql: Sql, id: number, patch: TicketTypePatch, audit?: AuditContext, beforeCommit?: (changed: AdminTicketType) => Promise<void>,
): Promise<AdminTicketType> {
  checkValues(patch);
  return sql.begin(async (tx) => {
    // the row lock first, in a statement of its own (as the grant): nothing takes or returns
    // stock, nor makes a hold, until this commits. NO KEY UPDATE, what the UPDATE below takes
    // anyway: a booking's foreign-key check (KEY SHARE) goes on beside it. FOR UPDATE waited on
    // those, and a confirm and this PATCH once deadlocked (the PATCH answered 503).
    const [locked] = await tx`SELECT ${tx.unsafe(TYPE_COLUMNS)} FROM ticket_types WHERE id = ${id} FOR NO KEY UPDATE`;
    if (!locked) throw unknownTicketType();
    let delta = 0;
    if (patch.capacity !== undefined) {
      // under the lock capacity = stock + held + confirmed (I2), so what is sold needs no scan
      const sold = locked.capacity - locked.stock;
      delta = patch.capacity - locked.capacity;
      if (patch.capacity < sold) {
        throw failWith({ fields: { sold } }, "capacity_below_sold", sold);
      }
    }
    const has = (k: keyof TicketTypePatch) => patch[k] !== undefined;
    const [row] = await tx`
      UPDATE ticket_types SET
        name = CASE WHEN ${has("name")} THEN ${patch.name ?? null}::text ELSE name END,
        price = CASE WHEN ${has("price")} THEN ${patch.price ?? null}::numeric ELSE price END,
        capacity = capacity + ${delta}::int,
        stock = stock + ${delta}::int,
        per_user_limit = CASE WHEN ${has("per_user_limit")} THEN ${patch.per_user_limit ?? null}::int ELSE per_user_limit END,
        sale_starts_at = CASE WHEN ${has("sale_starts_at")} THEN ${patch.sale_starts_at ?? null}::timestamptz ELSE sale_starts_at END,
        paused = CASE WHEN ${has("paused")} THEN ${patch.paused ?? null}::boolean ELSE paused END,
        max_active_holds = CASE WHEN ${has("max_active_holds")} THEN ${patch.max_active_holds ?? null}::int ELSE max_active_holds END,
        holds_per_minute = CASE WHEN ${has("holds_per_minute")} THEN ${patch.holds_per_minute ?? null}::int ELSE holds_per_minute END,
        hold_seconds = CASE WHEN ${has("hold_seconds")} THEN ${patch.hold_seconds ?? null}::int ELSE hold_seconds END
      WHERE id = ${id}
      RETURNING ${tx.unsafe(TYPE_COLUMNS)}`;
    const changed = typeOf(row);
    await recordChange(tx, audit, "ticket_type", typeOf(locked), changed, Object.keys(patch));
    await beforeCommit?.(changed);
    return changed;
  }) as Promise<AdminTicketType>;
}

/**
 * A route's transform hook, run before validation: a field the schema does not name is refused
 * (Elysia would drop it quietly, and a client sending `paused` would believe the sale paused).
 */
export function onlyKnownFields(schema: { properties: Record<string, unknown>; description?: string }) {
  return ({ body }: { body: unknown }) => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return; // validation says so
    if (Object.keys(body).some((k) => !Object.hasOwn(schema.properties, k))) {
      throw fail("invalid_input", `body: ${schema.description}`);
    }
  };
}

export const adminEventRoutes = (s: { config: Config; log: Logger; sql: Sql; redis: RedisClient; keys: KeysOf; catalog: Catalog }) => {
  // after a change, this instance's catalog shows it at once (the others within a second)
  const changed = <T>(result: T): T => {
    s.catalog.invalidate();
    return result;
  };
  // a change's log line once it committed (src/admin/audit.ts)
  const db = <T>(audit: AuditContext, step: () => Promise<T>) =>
    during("PostgreSQL", step).then((result) => (logChange(s.log, audit), changed(result)));
  return adminScope(s)
    .post(
      "/events",
      async ({ body, set, ...context }) => {
        const audit = auditContext(s, context);
        const event = await db(audit, () => createEvent(s.sql, withCurrency(body, s.config.CURRENCY), audit));
        set.status = 201;
        return event;
      },
      { body: CreateEventBody, transform: onlyKnownFields(CreateEventBody) },
    )
    .patch(
      "/events/:id",
      ({ body, params, ...context }) => {
        const id = pathId(params.id);
        if (id === null) throw unknownEvent();
        const audit = auditContext(s, context);
        return db(audit, () => updateEvent(s.sql, id, body, audit));
      },
      { body: UpdateEventBody, transform: onlyKnownFields(UpdateEventBody) },
    )
    .post(
      "/events/:id/ticket-types",
      async ({ body, params, set, ...context }) => {
        const id = pathId(params.id);
        if (id === null) throw unknownEvent();
        const audit = auditContext(s, context);
        const type = await db(audit, () => createTicketType(s.sql, id, body, audit));
        set.status = 201;
        return type;
      },
      { body: CreateTicketTypeBody, transform: onlyKnownFields(CreateTicketTypeBody) },
    )
    .patch(
      "/ticket-types/:id",
      async ({ body, params, ...context }) => {
        const id = pathId(params.id);
        if (id === null) throw unknownTicketType();
        const audit = auditContext(s, context);
        // a new start is in Redis too before this answers (sale-start/start-in-redis.ts); should Redis
        // refuse it, PostgreSQL keeps the old one and the answer is 503
        const publish = body.sale_starts_at === undefined
          ? undefined
          : (changed: AdminTicketType) => publishSaleStart(s, id, changed.sale_starts_at);
        const changed = await db(audit, () => updateTicketType(s.sql, id, body, audit, publish));
        // every instance's live streams of the type say so at once (not within their catalog's second)
        if (body.paused !== undefined || body.sale_starts_at !== undefined) {
          await s.redis.publish(s.keys(id).changes, EVERY_STREAM).catch(() => {}); // streams still see it within a second
        }
        return changed;
      },
      { body: UpdateTicketTypeBody, transform: onlyKnownFields(UpdateTicketTypeBody) },
    );
};
