// The events webhooks post, for the OpenAPI document's top-level `webhooks` (OpenAPI 3.1): one
// POST per event type, its body {type, timestamp, data} with `data` exactly as the triggers of
// sql/0012_webhooks.sql build it (their jsonb_build_object calls), and the Standard Webhooks
// headers that sign it. test/openapi.test.ts checks that the types here are those of
// src/webhooks/event-types.ts (this folder cannot import that one: src/webhooks imports it).
import { Type, type TProperties, type TSchema } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;
const Id = (description: string) => Type.Integer({ minimum: 1, description });
const Time = (description: string) => Type.String({ format: "date-time", description });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });
const Currency = Type.String({ pattern: "^[A-Z]{3}$", description: "ISO 4217 currency code of the event" });

/** What every event about one hold or booking says of its ticket type (webhook_type_data). */
const typeData = {
  ticket_type_id: Id("the ticket type"),
  event_id: Id("its event"),
  currency: Currency,
};
const queueToken = Type.String({ description: "the hold's queue token" });
const userId = Type.String({ description: "who holds or booked it" });
const quantity = Type.Integer({ minimum: 1, description: "tickets" });

/** webhook_booking_data: booking.confirmed and booking.cancelled. */
const bookingData = {
  ...typeData,
  booking_id: Id("the booking"),
  booking_ref: Type.String({ description: "the booking's public reference" }),
  order_ref: Nullable(Type.String(), "the shop's order id; null when the buyer confirmed"),
  queue_token: queueToken,
  user_id: userId,
  quantity,
  amount: Nullable(Type.Number({ minimum: 0 }), "price x quantity when booked; null for a booking made before prices were kept"),
  currency: Nullable(Currency, "the currency when booked; null as amount"),
  confirmed_at: Time("when it was booked"),
};

const holdEnded = (reason: string) => ({
  ...typeData,
  queue_token: queueToken,
  user_id: userId,
  quantity,
  expires_at: Time("the hold's deadline"),
  ended_at: Time("when it ended"),
  reason: Type.Literal(reason),
});

/** Each event type: what it tells, and its `data`. */
export const WEBHOOK_EVENTS: Record<string, { summary: string; description: string; data: TProperties }> = {
  "booking.confirmed": {
    summary: "A hold became a booking",
    description: "The buyer's confirm, or the shop's after payment. Written in the booking's own transaction.",
    data: bookingData,
  },
  "booking.cancelled": {
    summary: "A booking was cancelled",
    description: "The shop's or the operator's cancel; its tickets went back on sale.",
    data: { ...bookingData, cancelled_at: Time("when it was cancelled"), reason: Nullable(Type.String(), "the cancel's reason, or null") },
  },
  "hold.granted": {
    summary: "Someone at the head of the queue got a hold",
    description: "One event per hold (busy during a sale): written by the grant's statement, for every hold of its batch.",
    data: {
      queue_token: queueToken,
      user_id: userId,
      ticket_type_id: Id("the ticket type"),
      event_id: Id("its event"),
      quantity,
      amount: Type.Number({ minimum: 0, description: "price x quantity" }),
      currency: Currency,
      expires_at: Time("the hold's deadline"),
    },
  },
  "hold.released": {
    summary: "The buyer gave a hold back",
    description: "A hold that ended without a booking; its tickets went back on sale.",
    data: holdEnded("released by the buyer"),
  },
  "hold.expired": {
    summary: "A hold lapsed unconfirmed",
    description: "The cleaner ended it past its deadline; its tickets went back on sale.",
    data: holdEnded("not confirmed before expires_at"),
  },
  "ticket_type.sold_out": {
    summary: "A booking took a ticket type's last ticket",
    description: "None in stock and no hold out that could still come back. Told once per booking that made it so.",
    data: {
      ...typeData,
      name: Type.String(),
      capacity: Type.Integer({ minimum: 0 }),
      booked: Type.Integer({ minimum: 0, description: "tickets booked (confirmed) in all" }),
    },
  },
  "ticket_type.updated": {
    summary: "An operator changed a ticket type",
    description: "Created, edited, paused, its sale start moved (an admin change that changed a value): the type as it is now, and what changed.",
    data: {
      ...typeData,
      name: Type.String(),
      price: Type.Number({ minimum: 0 }),
      capacity: Type.Integer({ minimum: 0 }),
      per_user_limit: Type.Integer({ minimum: 1 }),
      paused: Type.Boolean(),
      sale_starts_at: Nullable(Time("when the sale opens"), "when the sale opens; null: it is open"),
      max_active_holds: Nullable(Type.Integer({ minimum: 1 }), "most holds outstanding at once; null: no ceiling"),
      holds_per_minute: Nullable(Type.Integer({ minimum: 1 }), "most holds granted a minute; null: no ceiling"),
      hold_seconds: Nullable(Type.Integer({ minimum: 1 }), "how long its holds last; null: RESERVATION_TTL_SECONDS"),
      changes: Type.Record(Type.String(), Type.Object({ old: Type.Unknown(), new: Type.Unknown() }), {
        description: "each field that changed, old and new (a creation: every field, old null), as in GET /admin/audit",
      }),
      actor: Type.String({ description: "who changed it: admin" }),
    },
  },
};

/** The body of an event of `type`: {type, timestamp, data}. */
export const webhookBody = (type: string, data: TProperties) =>
  Type.Object(
    { type: Type.Literal(type), timestamp: Time("when it happened (UTC, milliseconds)"), data: Type.Object(data, strict) },
    strict,
  );

const HEADERS = [
  ["webhook-id", "the event's id (msg_...): the same on every retry and to every endpoint; dedupe by it"],
  ["webhook-timestamp", "when this attempt was signed, in whole seconds since 1970 (UTC); refuse one far from your clock"],
  [
    "webhook-signature",
    "space-separated v1,<base64 HMAC-SHA256> signatures of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the " +
      "base64-decoded part of the secret after whsec_ (Standard Webhooks); while a rotated secret still signs, one for each",
  ],
] as const;

/**
 * The document's `webhooks`: one POST per event type. `toJson` turns a TypeBox schema into the
 * document's JSON Schema (openapi.ts' own).
 */
export function webhooksDocument(toJson: (schema: TSchema) => unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(WEBHOOK_EVENTS).map(([type, { summary, description, data }]) => [type, {
      post: {
        operationId: `webhook ${type}`.replace(/[^A-Za-z0-9]+(.)/g, (_, c: string) => c.toUpperCase()),
        tags: ["webhooks"],
        summary,
        description:
          `${description} Posted to every enabled endpoint subscribed to ${type} (or *), signed with its secret; ` +
          "a 2xx answer delivers it, anything else is retried later.",
        parameters: HEADERS.map(([name, about]) => ({ name, in: "header", required: true, description: about, schema: { type: "string" } })),
        requestBody: { required: true, content: { "application/json": { schema: toJson(webhookBody(type, data)) } } },
        responses: { "2XX": { description: "delivered: it is not sent again" } },
      },
    }]),
  );
}
