// The API's answers as TypeBox schemas: the one source for the OpenAPI document (src/api/docs.ts)
// and for test/openapi.test.ts, which checks real answers against them. Documentation only: no
// route declares them as Elysia's `response`, which would validate every answer at run time.
// Status words come from src/domain/states.ts; error bodies are src/core/errors.ts' `{error, message, ...fields}`.
// Each answer's type is its schema's Static (below the schema, same name): no hand-written twin.
import { Type, type Static, type TLiteral, type TProperties, type TSchema, type TUnion } from "@sinclair/typebox";
import { STATUS_MESSAGES, type ApiStatus } from "../domain/states";

const strict = { additionalProperties: false } as const;

/**
 * Every field of any member of a union of answers, each optional: for code that reads an answer
 * before it knows which member it is, or builds one field by field.
 */
export type FieldsOf<U> = {
  [K in U extends unknown ? keyof U : never]?: U extends unknown ? (K extends keyof U ? U[K] : never) : never;
};

/** One of the given words (a union of literals; the document shows it as an enum). */
export function OneOf<const W extends string>(words: readonly W[], description?: string): TUnion<TLiteral<W>[]> {
  return Type.Union(words.map((w) => Type.Literal(w)), description ? { description } : {});
}

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });
const Id = (description: string) => Type.Integer({ minimum: 1, maximum: 2147483647, description });
const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description && { description }) });
const DateTime = (description: string) => Type.String({ format: "date-time", description });
const Message = Type.String({ description: "for people; the wording may change, so match on the codes, not on this" });
const QueueToken = Type.String({ description: "the queue token: opaque, URL-safe, signed; keep it" });
const Currency = Type.String({ pattern: "^[A-Z]{3}$", description: "ISO 4217 currency code of the event's prices" });
const BookingRef = Type.String({ pattern: "^[0-9A-HJKMNP-TV-Z]{10}$", description: "the booking's public reference (Crockford base32); ids stay internal" });
const OrderRef = Type.String({ minLength: 1, maxLength: 128, description: "the shop's order id, as it confirmed" });
const Amount = Type.Number({ minimum: 0, description: "unit_price x quantity, in `currency`" });
/** A booking's price as kept: one made before prices were kept has none. */
const keptPrice = {
  amount: Nullable(Amount, "price x quantity when booked; null for a booking made before prices were kept"),
  currency: Nullable(Currency, "the event's currency when booked; null as amount"),
};
/** A booking, by id and by its public reference (the one to show). */
const booked = { booking_id: Id("the booking"), booking_ref: BookingRef };
const OrderRefOrNull = Nullable(OrderRef, "the shop's order id; null when the buyer confirmed");
const BookingStatus = OneOf(["confirmed", "cancelled"] as const, "cancelled: its tickets went back on sale");

/** Every word a status answer can carry: src/domain/states.ts' STATUS_MESSAGES keys. */
export const API_STATUSES = Object.keys(STATUS_MESSAGES) as ApiStatus[];

/** The catalog's sale states of a ticket type (src/events/catalog.ts). */
const TICKET_TYPE_STATES = ["on_sale", "sold_out", "not_on_sale", "paused"] as const;
export type TicketTypeState = (typeof TICKET_TYPE_STATES)[number];

export const Text = Type.String();
export const OpenApiDocument = Type.Object(
  { openapi: Type.String({ pattern: "^3\\.1\\." }), info: Type.Object({}), paths: Type.Object({}) },
  { description: "an OpenAPI 3.1 document" },
);

export const Health = Type.Object({ status: Type.Literal("ok") }, strict);

// GET /readyz (src/ops/readiness.ts)
const Check = OneOf(["ok", "unreachable", "stalled", "stopped"] as const, "ok; a store: unreachable; a worker: stalled (not looping) or stopped");
const readinessFields = {
  failing: Type.Array(OneOf(["redis", "postgresql", "processor", "cleaner"] as const), { description: "what is not ok" }),
  checks: Type.Object(
    // the workers are listed when the instance runs them (a served instance always does)
    { redis: Check, postgresql: Check, processor: Type.Optional(Check), cleaner: Type.Optional(Check) },
    strict,
  ),
};
export const Ready = Type.Object({ status: Type.Literal("ready"), ...readinessFields }, strict);
export const NotReady = Type.Object(
  { error: Type.Literal("not_ready", { description: "a stable code to match on" }), message: Message, status: Type.Literal("not_ready"), ...readinessFields },
  strict,
);
export type NotReady = Static<typeof NotReady>;
export type Ready = Static<typeof Ready>;

export const MetricsText = Type.String({ description: "Prometheus text exposition format 0.0.4" });

// ---- public: events, queue, reservations

const saleFields = {
  sale_starts_at: Nullable(DateTime("when the sale opens"), "when the sale opens; null: it is open"),
  paused: Type.Boolean({ description: "the operator paused serving: joins still queue, nobody is served" }),
  max_active_holds: Nullable(Type.Integer({ minimum: 1 }), "most holds outstanding at once; null: no ceiling"),
  holds_per_minute: Nullable(Type.Integer({ minimum: 1 }), "most holds granted a minute; null: no ceiling"),
};

const HoldSeconds = Nullable(Type.Integer({ minimum: 1, maximum: 86400 }), "how long a hold of this type lasts; null: RESERVATION_TTL_SECONDS");

/** A ticket type as the operator sets it (the admin routes answer these alone). */
const ticketTypeFields = {
  id: Id("ticket type id"),
  event_id: Id("event id"),
  name: Type.String(),
  price: Type.Number({ minimum: 0 }),
  capacity: Count("tickets the type will ever have"),
  stock: Count("tickets not held nor booked right now"),
  per_user_limit: Type.Integer({ minimum: 1, description: "most tickets of this type one person may book" }),
  ...saleFields,
  hold_seconds: HoldSeconds,
};

export const TicketType = Type.Object(
  {
    ...ticketTypeFields,
    status: OneOf(TICKET_TYPE_STATES, "sold_out wins over not_on_sale, which wins over paused"),
    prequeue_opens_at: Nullable(
      DateTime("when joins start waiting for the sale"),
      "when the pre-queue opens: sale_starts_at less PREQUEUE_MINUTES. From then until sale_starts_at the type reads " +
        "not_on_sale, yet a join waits in its line (waiting_for_sale). null: no sale start (or no pre-queue)",
    ),
  },
  strict,
);
export type TicketType = Static<typeof TicketType>;

/** An event as the operator sets it (the admin routes answer these alone). */
const eventFields = {
  id: Id("event id"),
  name: Type.String(),
  description: Type.String(),
  venue: Type.String(),
  starts_at: Nullable(DateTime("when the event starts"), "when the event starts, or null"),
  currency: Currency,
};

export const Event = Type.Object({ ...eventFields, ticket_types: Type.Array(TicketType) }, strict);
export type Event = Static<typeof Event>;

export const EventList = Type.Array(Event, { description: "events with their ticket types (at most a second old)" });

const joined = {
  queue_token: QueueToken,
  ticket_type_id: Id("the ticket type joined"),
  quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
  message: Message,
};

export const JoinAnswer = Type.Union(
  [
    Type.Object(
      {
        ...joined,
        status: OneOf(["queued", "reserved"] as const, "reserved only for a verified rejoin of a place holding tickets"),
        position: Count("people ahead, plus one; 0 when tickets are held"),
        expires_at: Type.Optional(DateTime("reserved: the hold's deadline")),
      },
      strict,
    ),
    Type.Object(
      {
        ...joined,
        status: Type.Literal("waiting_for_sale"),
        sale_starts_at: DateTime("when the sale starts: everyone waiting then gets a place in a random order"),
      },
      strict,
    ),
  ],
  { description: "a place in the queue, or in the pre-queue of a sale that has not started" },
);
export type JoinAnswer = Static<typeof JoinAnswer>;

const where = { ticket_type_id: Id("the token's ticket type"), quantity: Type.Optional(Type.Integer({ minimum: 0 })), message: Message };
const StatusOf = <S extends ApiStatus, F extends TProperties = {}>(statuses: readonly S[], fields: F = {} as F) =>
  Type.Object({ status: OneOf(statuses), ...where, ...fields }, strict);
const waiting = {
  position: Count("people ahead, plus one"),
  estimated_wait_seconds: Type.Optional(Count("when the recent serving rate allows a guess")),
};
const NOT_ENDED = ["queued", "paused", "waiting_for_sale", "reserved", "confirmed", "cancelled"] as const;
type Ended = Exclude<ApiStatus, (typeof NOT_ENDED)[number]>;
const ENDED_STATUSES = API_STATUSES.filter((s): s is Ended => !(NOT_ENDED as readonly ApiStatus[]).includes(s));

export const StatusAnswer = Type.Union(
  [
    StatusOf(["queued"] as const, {
      ...waiting,
      sale_starts_at: Type.Optional(DateTime(
        "the sale's start was moved to this time: the place is kept and served after it (no estimated_wait_seconds)",
      )),
      waiting_for_held_tickets: Type.Optional(Type.Literal(true, {
        description: "no stock is left and people ahead hold every ticket: the wait ends as their holds end " +
          "(no estimated_wait_seconds; see next_release_at)",
      })),
      next_release_at: Type.Optional(DateTime(
        "with waiting_for_held_tickets: the earliest deadline of the type's holds, when the next ticket may come back",
      )),
    }),
    StatusOf(["paused"] as const, { position: Type.Optional(waiting.position), estimated_wait_seconds: waiting.estimated_wait_seconds }),
    StatusOf(["waiting_for_sale"] as const, {
      sale_starts_at: Type.Optional(Nullable(DateTime("when the sale starts"), "when the sale starts; null: no start is set")),
    }),
    StatusOf(["reserved"] as const, {
      expires_at: DateTime("confirm (or pay, with confirm_by shop) before this"),
      confirm_by: OneOf(["buyer", "shop"] as const,
        "buyer: POST /reservation/confirm books; shop: the shop books after payment (POST /shop/holds/{token}/confirm)"),
      checkout_url: Type.Optional(Type.String({
        format: "uri",
        description: "with CHECKOUT_URL: the shop's checkout, with hold=<a JWT signed by the keys of /.well-known/jwks.json>",
      })),
    }),
    StatusOf(["confirmed"] as const, booked),
    StatusOf(["cancelled"] as const, booked),
    StatusOf(ENDED_STATUSES),
  ],
  { description: "where a token stands; `status` is one of: " + API_STATUSES.join(", ") },
);
export type StatusAnswer = Static<typeof StatusAnswer>;

export const Confirmation = Type.Object(
  {
    status: Type.Literal("confirmed"),
    booking_id: Id("the booking; a repeat answers the same one"),
    booking_ref: BookingRef,
    queue_token: QueueToken,
    ticket_type_id: Id("the ticket type"),
    quantity: Type.Integer({ minimum: 1 }),
    ...keptPrice,
    confirmed_at: DateTime("when it was booked"),
  },
  strict,
);
export type Confirmation = Static<typeof Confirmation>;

export const Release = Type.Object(
  { status: Type.Literal("released"), queue_token: QueueToken, ticket_type_id: Id("the ticket type"), message: Message },
  strict,
);
export type Release = Static<typeof Release>;

// ---- shop (server to server: src/shop/)

export const Jwks = Type.Object(
  {
    keys: Type.Array(Type.Object({
      kty: Type.Literal("OKP"),
      crv: Type.Literal("Ed25519"),
      x: Type.String({ description: "the public key, base64url" }),
      kid: Type.String({ description: "its RFC 7638 thumbprint, as the JWT's header names it" }),
      alg: Type.Literal("EdDSA"),
      use: Type.Literal("sig"),
    }, strict), { description: "the current key first, then the previous one while keys rotate" }),
  },
  strict,
);
export type Jwks = Static<typeof Jwks>;

export const ShopHold = Type.Object(
  {
    queue_token: QueueToken,
    status: OneOf(["reserved", "confirmed", "cancelled", "expired", "released"] as const,
      "reserved: held until expires_at; confirmed: booked (cancelled: the booking was cancelled since)"),
    user_id: Type.String({ description: "who holds it" }),
    event_id: Id("event id"),
    event_name: Type.String(),
    ticket_type_id: Id("ticket type id"),
    ticket_type_name: Type.String(),
    quantity: Type.Integer({ minimum: 1 }),
    unit_price: Type.Number({ minimum: 0, description: "the ticket type's price" }),
    amount: Type.Number({ minimum: 0, description: "to charge: unit_price x quantity (booked: what the booking recorded)" }),
    currency: Currency,
    expires_at: DateTime("the hold's deadline, extensions included"),
    extended_seconds: Count("seconds the shop added to the deadline so far"),
    booking_id: Type.Optional(Id("its booking, once booked")),
    booking_ref: Type.Optional(BookingRef),
  },
  strict,
);
export type ShopHold = Static<typeof ShopHold>;

export const ShopBooking = Type.Object(
  {
    ...booked,
    order_ref: OrderRef,
    queue_token: QueueToken,
    ticket_type_id: Id("ticket type id"),
    quantity: Type.Integer({ minimum: 1 }),
    amount: Amount,
    currency: Currency,
    confirmed_at: DateTime("when it was booked"),
  },
  strict,
);
export type ShopBooking = Static<typeof ShopBooking>;

export const Extension = Type.Object(
  {
    queue_token: QueueToken,
    expires_at: DateTime("the hold's new deadline"),
    extended_seconds: Count("seconds added so far, all extensions together (at most HOLD_EXTEND_MAX_SECONDS)"),
  },
  strict,
);
export type Extension = Static<typeof Extension>;

export const CancelledBooking = Type.Object(
  {
    ...booked,
    order_ref: OrderRefOrNull,
    status: Type.Literal("cancelled"),
    ticket_type_id: Id("ticket type id"),
    quantity: Type.Integer({ minimum: 1 }),
    ...keptPrice,
    confirmed_at: DateTime("when it was booked"),
    cancelled_at: DateTime("when it was cancelled (the first cancel)"),
    cancel_reason: Nullable(Type.String(), "the first cancel's reason, or null"),
  },
  strict,
);
export type CancelledBooking = Static<typeof CancelledBooking>;

// ---- admin

export const AdminEvent = Type.Object(eventFields, strict);
export type AdminEvent = Static<typeof AdminEvent>;

export const AdminTicketType = Type.Object(ticketTypeFields, strict);
export type AdminTicketType = Static<typeof AdminTicketType>;

const fromRedis = <T extends TSchema>(schema: T, description: string) => Nullable(schema, `${description}; null while Redis is unavailable`);

export const TicketTypeFigures = Type.Object(
  {
    id: Id("ticket type id"),
    event_id: Id("event id"),
    name: Type.String(),
    capacity: Count("capacity = stock + held + confirmed"),
    stock: Count("tickets on sale"),
    held: Count("tickets in outstanding holds"),
    confirmed: Count("tickets booked"),
    expired: Count("tickets of holds that lapsed"),
    released: Count("tickets of holds given back"),
    paused: saleFields.paused,
    max_active_holds: saleFields.max_active_holds,
    holds_per_minute: saleFields.holds_per_minute,
    people_queued: fromRedis(Count(), "queue entries the processor has yet to reach (an upper bound)"),
    people_prequeued: fromRedis(Count(), "people in the pre-queue of a sale that has not started"),
    batches_in_flight: fromRedis(Count(), "batches claimed and not yet settled"),
    serving_rate: fromRedis(Type.Number({ minimum: 0 }), "holds granted per second lately (null too before one was measured)"),
    oldest_waiting_place: fromRedis(Type.Integer({ minimum: 1 }), "place number of the first entry still queued (null too when none)"),
    next_hold_deadline: Nullable(DateTime("earliest deadline of an outstanding hold"), "earliest deadline of an outstanding hold, or null"),
    redis: OneOf(["ok", "unavailable"] as const, "whether the Redis figures could be read"),
  },
  strict,
);
export type TicketTypeFigures = Static<typeof TicketTypeFigures>;

/** GET /admin/events: an event with its ticket types as the operator set them. */
export const AdminEventListing = Type.Array(
  Type.Object({ ...eventFields, ticket_types: Type.Array(AdminTicketType, { description: "ordered by id" }) }, strict),
  { description: "every event, newest first" },
);
export type AdminEventListing = Static<typeof AdminEventListing>;

/** A type's figures in GET /admin/events/:id/figures: GET /admin/ticket-types/:id's and four counts to chart. */
export const EventTypeFigures = Type.Object(
  {
    ...TicketTypeFigures.properties,
    // counted from every reservation of the type, so at most every 30 s (src/admin/event-counts.ts)
    expired: Count("tickets of holds that lapsed, as counted up to 30 s ago"),
    released: Count("tickets of holds given back, as counted up to 30 s ago"),
    holds: Count("holds outstanding (held tickets are their quantities)"),
    cancelled: Count("tickets of cancelled bookings (back in stock)"),
    holds_granted: Count("holds ever granted: only grows (a hold granted in the last 30 s and already ended unbooked may be counted late)"),
    bookings: Count("bookings ever made, cancelled ones too: only grows"),
  },
  strict,
);
export type EventTypeFigures = Static<typeof EventTypeFigures>;

export const EventFigures = Type.Object(
  {
    event_id: Id("event id"),
    read_at: DateTime("when these were read"),
    ticket_types: Type.Array(EventTypeFigures, { description: "every type of the event, ordered by id" }),
  },
  strict,
);
export type EventFigures = Static<typeof EventFigures>;

export const Booking = Type.Object(
  {
    booking_id: Id("booking id"),
    booking_ref: BookingRef,
    order_ref: OrderRefOrNull,
    user_id: Type.String(),
    ticket_type_id: Id("ticket type id"),
    ticket_type_name: Type.String(),
    quantity: Type.Integer({ minimum: 1 }),
    ...keptPrice,
    status: BookingStatus,
    created_at: DateTime("when it was booked"),
    cancelled_at: Nullable(DateTime("when it was cancelled"), "when it was cancelled, or null"),
  },
  strict,
);
export type Booking = Static<typeof Booking>;

/** A page of a listing: its items, and the cursor of the `next` page. */
const Page = <P extends TProperties>(items: P, next: string) => Type.Object(
  { ...items, next_cursor: Nullable(Type.String(), `pass it back as \`cursor\` for the ${next}; null on the last page`) },
  strict,
);

export const BookingsPage = Page({ bookings: Type.Array(Booking, { description: "ordered by booking id" }) }, "next page");
export type BookingsPage = Static<typeof BookingsPage>;

export const BookingsCsv = Type.String({
  description:
    "RFC 4180 CSV: a header row (booking_id,booking_ref,order_ref,user_id,ticket_type_id,ticket_type_name,quantity,amount,currency,status," +
    "created_at,cancelled_at), CRLF line ends; empty cells for nulls",
});

// ---- admin: webhooks (src/webhooks/)

const EventName = Type.String({
  pattern: "^(\\*|[a-z_]+\\.[a-z_]+)$", description: "an event type (each is described under the document's webhooks), or * for all",
});
const webhookFields = {
  id: Id("the endpoint's id"),
  url: Type.String({ format: "uri", maxLength: 2048, description: "where the events are posted (http or https), as normalized" }),
  events: Type.Array(EventName, { minItems: 1, description: "the event types it subscribes to, each once" }),
  description: Type.String({ maxLength: 500, description: "the operator's note; empty when none" }),
  enabled: Type.Boolean({ description: "false: no new deliveries are written for it (those written stay)" }),
};
const Secret = Type.String({
  pattern: "^whsec_[A-Za-z0-9+/]{32}$", description: "whsec_ and base64 of 24 random bytes: the signing key (Standard Webhooks). Shown only here: keep it",
});

export const Webhook = Type.Object(
  {
    ...webhookFields,
    previous_secret_expires_at: Nullable(
      DateTime("until when the secret before the last rotation still signs alongside"),
      "until when the secret before the last rotation still signs alongside; null when none does",
    ),
    created_at: DateTime("when it was registered"),
    updated_at: DateTime("when it last changed (a rotation too)"),
  },
  strict,
);
export type Webhook = Static<typeof Webhook>;

export const WebhookCreated = Type.Object({ ...webhookFields, secret: Secret, created_at: DateTime("when it was registered") }, strict);
export type WebhookCreated = Static<typeof WebhookCreated>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook, { description: "every endpoint, by id; no secrets" }) }, strict);
export type WebhookList = Static<typeof WebhookList>;

export const WebhookRotated = Type.Object(
  {
    id: Id("the endpoint's id"),
    secret: Secret,
    previous_secret_expires_at: DateTime("the secret it replaced signs alongside until then (24 hours)"),
  },
  strict,
);
export type WebhookRotated = Static<typeof WebhookRotated>;

export const WebhookDeleted = Type.Object(
  {
    id: Id("the endpoint's id"),
    deleted: Type.Literal(true),
    deliveries_deleted: Count("its deliveries deleted with it (pending ones too: they are never sent)"),
  },
  strict,
);
export type WebhookDeleted = Static<typeof WebhookDeleted>;

export const WebhookDelivery = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: "the delivery's id (retry it by this)" }),
    webhook_id: Type.String({ description: "the event's webhook-id header: the same to every endpoint and on every attempt (dedupe by it)" }),
    event_type: EventName,
    status: OneOf(["pending", "delivered", "failed"] as const, "pending: to be sent (again); failed: every attempt of the schedule failed"),
    attempts: Count("attempts made so far"),
    last_status_code: Nullable(Type.Integer(), "the HTTP status of the last attempt; null before one, or when none came (a timeout, a refused connection)"),
    last_error: Nullable(Type.String(), "what went wrong with the last attempt; null when nothing did"),
    next_attempt_at: Nullable(DateTime("when it is sent next"), "when it is sent next; null unless pending"),
    last_attempt_at: Nullable(DateTime("when it was last sent"), "when it was last sent; null before the first attempt"),
    delivered_at: Nullable(DateTime("when the endpoint took it"), "when the endpoint took it (a 2xx); null until then"),
    created_at: DateTime("when the event happened and the delivery was written (in the same transaction)"),
    payload: Type.Object(
      { type: EventName, timestamp: DateTime("when the event happened"), data: Type.Record(Type.String(), Type.Unknown()) },
      { ...strict, description: "the body posted: the event, as the document's webhooks describe it" },
    ),
  },
  strict,
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveriesPage = Page({ deliveries: Type.Array(WebhookDelivery, { description: "newest first" }) }, "next (older) page");
export type WebhookDeliveriesPage = Static<typeof WebhookDeliveriesPage>;

/** A field's value in the audit log: what the admin routes answer for it. */
const FieldValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())]);

export const AuditEntry = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: "the entry's id; newer entries have greater ones" }),
    at: DateTime("when the change's transaction began"),
    actor: Type.String({
      pattern: "^(admin|shop:[0-9a-f]{8})$",
      description: "who: admin (ADMIN_TOKEN), or shop:<the first 8 hex characters of SHA-256 of the shop key used>",
    }),
    route: Type.String({ description: "the route's method and pattern, e.g. PATCH /admin/ticket-types/:id or POST /shop/bookings/:id/cancel" }),
    target: Type.Object(
      {
        type: OneOf(["event", "ticket_type", "booking", "webhook", "webhook_delivery"] as const, "what was changed (a booking: cancelled; a webhook delivery: retried)"),
        id: Id("its id (of a creation: the new one)"),
      },
      strict,
    ),
    changes: Type.Record(Type.String(), Type.Object({ old: FieldValue, new: FieldValue }, strict), {
      description: "each field whose value changed, old and new (a creation: every field set, old null); empty when none did",
    }),
    request_id: Type.String({ description: "the change request's X-Request-Id" }),
    client: Type.String({ description: "the change request's client address, as the rate limits count clients" }),
  },
  strict,
);
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditPage = Page({ entries: Type.Array(AuditEntry, { description: "newest first" }) }, "next (older) page");
export type AuditPage = Static<typeof AuditPage>;

// ---- errors

/** Extra fields some errors carry besides `error` and `message`. */
export const ERROR_FIELDS = {
  status: OneOf(["waiting_for_sale", "queued", "reserved"] as const, "already_queued: the live place's status"),
  remaining: Count("limit_reached on a join: tickets the user may still book"),
  sold: Count("capacity_below_sold: tickets held and confirmed right now"),
  sale_starts_at: DateTime("not_on_sale: when the sale starts"),
  retry_after: Type.Integer({ minimum: 1, description: "rate_limited: seconds to wait, as in Retry-After" }),
  booking_id: Id("already_confirmed from the shop API: the hold's booking"),
};
export type ErrorField = keyof typeof ERROR_FIELDS;

const RequestId = Type.String({ minLength: 1, maxLength: 128, description: "the request's id, as in its X-Request-Id header: quote it when reporting a problem" });

/** An error answer whose `error` is one of `codes`, with the optional `fields` some of them add. */
export function ErrorBody(codes: readonly string[], fields: readonly ErrorField[] = []) {
  const extra = Object.fromEntries(fields.map((f) => [f, Type.Optional(ERROR_FIELDS[f])]));
  return Type.Object({ error: OneOf(codes, "a stable code to match on"), message: Message, ...extra, request_id: RequestId }, strict);
}
