// What the OpenAPI document says about each route beyond what the route itself declares (its
// path, query and body schemas): summary, description, every answer it can give (success and
// each error status, with their codes) and examples. One entry per route, keyed "METHOD /path"
// as Elysia lists it in app.routes; test/openapi.test.ts fails for a route without one, and for
// an answer whose status or body is not documented here. To document a new route, add an entry.
import type { TSchema } from "@sinclair/typebox";
import * as S from "./schemas";
import type { ErrorField } from "./schemas";
import { BODY_LIMIT_BYTES } from "../http/body";
import { ERROR_CODES, KEY_NEEDED, messageOf, type ErrorCode, type MessageValues } from "../core/error-codes";
import {
  CONFIRM_REFUSALS, heldTicketsMessage, PAYMENT_IN_PROGRESS, postponedMessage, RELEASE_REFUSALS, SHOP_RESERVED_MESSAGE, STATUS_MESSAGES,
  type Refusal,
} from "../domain/states";

/** One answer of a route for one status: its body per content type, with examples, and its headers. */
export type Answer = {
  description: string;
  content: Record<string, { schema: TSchema; examples: Record<string, unknown> }>;
  headers?: Record<string, string>;
};

export type RouteDoc = {
  summary: string;
  description: string;
  tag: "service" | "events" | "queue" | "reservations" | "shop" | "admin" | "documentation";
  /**
   * admin: the admin bearer token is required; metrics: METRICS_TOKEN or the admin token;
   * join-jwt: a JWT with JOIN_AUTH=jwt, none otherwise; shop: one of SHOP_API_KEYS.
   */
  auth?: "admin" | "metrics" | "join-jwt" | "shop";
  requestExample?: unknown;
  responses: Record<number, Answer>;
};

const JSON_TYPE = "application/json";

/** The documentation's own routes (src/api/openapi.ts serves them). */
export const DOCS_PATHS = {
  page: "/openapi",
  spec: "/openapi/json",
  script: "/openapi/swagger-ui-bundle.js",
  style: "/openapi/swagger-ui.css",
} as const;

// ---- errors: which codes a route can answer (their statuses and messages: src/core/error-codes.ts)

type Codes = readonly ErrorCode[];

/** The codes of several lists together, each once. */
const failures = (...lists: Codes[]): Codes => [...new Set(lists.flat())];

const BAD_BODY: Codes = ["invalid_input", "invalid_json", "body_too_large"];
const ADMIN: Codes = ["unauthorized", "admin_disabled"];
const SHOP: Codes = ["unauthorized", "shop_disabled"];
const DOWN: Codes = ["unavailable"];
/** The routes with a per-client limit (src/rate-limit/limits.ts). */
const LIMITED: Codes = ["rate_limited"];

/** confirm's or release's refusals (src/domain/states.ts), and the message of each code's first state. */
function refusals(table: Record<string, Refusal>): { codes: Codes; messages: Record<string, string> } {
  const messages: Record<string, string> = {};
  for (const r of Object.values(table)) messages[r.code] ??= r.message;
  return { codes: Object.keys(messages) as ErrorCode[], messages };
}

/** The values an example message is made from, for each code whose message names some. */
const EXAMPLE_VALUES: { [C in ErrorCode]?: MessageValues<C> } = {
  invalid_input: ["quantity: expected a whole number from 1 to 1000"],
  body_too_large: [BODY_LIMIT_BYTES / 1024],
  invalid_cursor: ["this export"],
  method_not_allowed: ["GET"],
  rate_limited: [3],
  unauthorized: [KEY_NEEDED.admin],
  unavailable: ["Redis"],
  not_ready: ["redis"],
  capacity_below_sold: [52],
  quantity_over_limit: [4, "General Admission"],
  quantity_over_capacity: [500, "General Admission"],
  not_on_sale: ["General Admission", "2026-12-01T09:00:00.000Z", 10],
  already_queued: ["General Admission", "queued"],
  sold_out: ["General Admission"],
  limit_reached: ["General Admission", 4, 3],
  amount_mismatch: [90],
  extend_limit: [600, 120],
};

/** A code's example message: as the service says it, with the values above. */
const exampleMessage = (code: ErrorCode): string =>
  (messageOf as (c: ErrorCode, ...v: unknown[]) => string)(code, ...((EXAMPLE_VALUES[code] as unknown[] | undefined) ?? []));

/** What the shop routes' refusals say where the codes mean more than elsewhere. */
const SHOP_MESSAGES: Record<string, string> = { unauthorized: KEY_NEEDED.shop };

/** Extra fields of an example, and which codes carry which fields. */
const EXAMPLE_FIELDS: Partial<Record<ErrorCode, Partial<Record<ErrorField, unknown>>>> = {
  already_queued: { status: "queued" },
  limit_reached: { remaining: 1 },
  capacity_below_sold: { sold: 52 },
  not_on_sale: { sale_starts_at: "2026-12-01T09:00:00.000Z" },
  rate_limited: { retry_after: 3 },
  already_confirmed: { booking_id: 7 },
};

/** Every error body ends with the request's id, as in X-Request-Id. */
const REQUEST_ID_EXAMPLE = "k3x9q2ab-1f";

/** Headers some codes come with. */
const HEADERS: Partial<Record<ErrorCode, Record<string, string>>> = {
  unavailable: { "Retry-After": "seconds to wait before trying again" },
  in_progress: { "Retry-After": "with in_progress: seconds to wait before trying again" },
  rate_limited: { "Retry-After": "whole seconds (at least 1) until this client may ask again" },
  unauthorized: { "WWW-Authenticate": "Bearer (with a realm and an error for the admin API and for JWTs)" },
};

/** The error answers for the given codes: one schema per status naming its codes, an example per code. */
function errorAnswers(list: Codes, messages: Record<string, string> = {}): Record<number, Answer> {
  const byStatus: Record<number, ErrorCode[]> = {};
  for (const code of list) (byStatus[ERROR_CODES[code].status] ??= []).push(code);
  const answers: Record<number, Answer> = {};
  for (const [status, codes] of Object.entries(byStatus)) {
    const fields = [...new Set(codes.flatMap((c) => Object.keys(EXAMPLE_FIELDS[c] ?? {}) as ErrorField[]))];
    const examples = Object.fromEntries(
      codes.map((code) => [code, {
        error: code, message: messages[code] ?? exampleMessage(code), ...EXAMPLE_FIELDS[code], request_id: REQUEST_ID_EXAMPLE,
      }]),
    );
    const headers = Object.assign({}, ...codes.map((c) => HEADERS[c] ?? {}));
    answers[Number(status)] = {
      description: `error: ${codes.join(", ")}`,
      content: { [JSON_TYPE]: { schema: S.ErrorBody(codes, fields), examples } },
      ...(Object.keys(headers).length > 0 && { headers }),
    };
  }
  return answers;
}

/** A success answer in JSON. */
const ok = (description: string, schema: TSchema, examples: Record<string, unknown>): Answer => ({
  description,
  content: { [JSON_TYPE]: { schema, examples } },
});

/** A success answer in another format than JSON. */
const text = (description: string, type: string): Answer => ({
  description,
  content: { [type]: { schema: S.Text, examples: {} } },
});

// ---- examples

const TOKEN = "AAAAAWgvC4m7nQ2xR8kYpLz3Jt6WcV1sHbE0fUaMdGiXoKqN";
const AT = "2026-12-01T08:02:11.204Z";
const ticketType = {
  id: 1, event_id: 1, name: "General Admission", price: 45, capacity: 500, stock: 412, per_user_limit: 4,
  sale_starts_at: null, paused: false, max_active_holds: null, holds_per_minute: null, hold_seconds: null,
};
const adminTicketType = ticketType;
/** The catalog's listing adds the pre-queue's opening. */
const listedType = { ...ticketType, status: "on_sale", prequeue_opens_at: null };
const event = { id: 1, name: "Demo Night", description: "", venue: "Main Hall", starts_at: "2026-12-24T19:30:00.000Z", currency: "EUR" };
const BOOKING_REF = "7K3QX9M2TD";
const shopBooking = {
  booking_id: 7, booking_ref: BOOKING_REF, order_ref: "ORD-1001", queue_token: TOKEN, ticket_type_id: 1, quantity: 2, amount: 90,
  currency: "EUR", confirmed_at: AT,
};
const cancelled = {
  booking_id: 7, booking_ref: BOOKING_REF, order_ref: "ORD-1001", status: "cancelled", ticket_type_id: 1, quantity: 2, amount: 90,
  currency: "EUR", confirmed_at: AT, cancelled_at: "2026-12-02T10:00:00.000Z", cancel_reason: "refund",
};
const cancelDoc = (auth: "shop" | "admin", who: string): RouteDoc => ({
  tag: auth,
  auth,
  summary: "Cancel a booking",
  description:
    `${who} cancels a booking (a refund, a chargeback, a mistake): it becomes cancelled and its tickets go back on sale ` +
    "exactly once; people still waiting are served them, and the person may book again (their per-user tally goes " +
    "down). The token's status reads `cancelled`, and its live stream is told. Cancelling again answers the same " +
    "booking and moves nothing. Every cancel is kept in the audit log (GET /admin/audit) with its actor. The body, " +
    "and its `reason`, are optional.",
  requestExample: { reason: "refund" },
  responses: {
    200: ok("the cancelled booking", S.CancelledBooking, { cancelled }),
    ...errorAnswers(failures(BAD_BODY, auth === "shop" ? SHOP : ADMIN, ["unknown_booking"], DOWN), auth === "shop" ? SHOP_MESSAGES : {}),
  },
});
const statusAnswer = (status: keyof typeof STATUS_MESSAGES, fields: Record<string, unknown>) => ({
  status, ticket_type_id: 1, quantity: 2, ...fields, message: STATUS_MESSAGES[status],
});

const URL_EXPECTED = "expected an http or https URL of at most 2048 characters, without user name or password";
const webhookFields = {
  id: 3, url: "https://shop.example.com/hooks/tickets", events: ["booking.confirmed", "booking.cancelled"], description: "the shop", enabled: true,
};
const webhookCreated = { ...webhookFields, secret: "whsec_J3b3P1j/6ge06pquvPynMwQxEMwWC/IM", created_at: AT };
const webhook = { ...webhookFields, previous_secret_expires_at: null, created_at: AT, updated_at: AT };
const delivery = {
  id: 812, webhook_id: "msg_5f0c3e7a9b2d4c1e8f6a0b3d7c9e2f41", event_type: "booking.confirmed", status: "delivered", attempts: 1,
  last_status_code: 200, last_error: null, next_attempt_at: null, last_attempt_at: AT, delivered_at: AT, created_at: AT,
  payload: {
    type: "booking.confirmed", timestamp: AT,
    data: {
      ticket_type_id: 1, event_id: 1, booking_id: 7, booking_ref: BOOKING_REF, order_ref: "ORD-1001", queue_token: TOKEN, user_id: "alice",
      quantity: 2, amount: 90, currency: "EUR", confirmed_at: AT,
    },
  },
};

const confirm = refusals(CONFIRM_REFUSALS);
const release = refusals({ ...RELEASE_REFUSALS, payment: PAYMENT_IN_PROGRESS });

export const API_DOCS: Record<string, RouteDoc> = {
  "GET /health": {
    tag: "service",
    summary: "Liveness",
    description: "Answers while the process serves, without touching Redis or PostgreSQL.",
    responses: { 200: ok("the process serves", S.Health, { ok: { status: "ok" } }) },
  },
  "GET /readyz": {
    tag: "service",
    summary: "Readiness",
    description:
      "200 while Redis answers a PING and PostgreSQL a SELECT 1 (within a second each) and the processor and the " +
      "cleaner are looping; otherwise 503 naming what is not (a worker is `stalled` when it has not stepped for " +
      "5 seconds past when it said it would). No auth: for load balancers. GET /health is liveness alone.",
    responses: {
      200: ok("ready to serve", S.Ready, {
        ready: { status: "ready", failing: [], checks: { redis: "ok", postgresql: "ok", processor: "ok", cleaner: "ok" } },
      }),
      503: ok("not ready: what fails is named", S.NotReady, {
        not_ready: {
          error: "not_ready", message: "not ready: redis", status: "not_ready", failing: ["redis"],
          checks: { redis: "unreachable", postgresql: "ok", processor: "ok", cleaner: "ok" },
        },
      }),
    },
  },
  "GET /metrics": {
    tag: "service",
    auth: "metrics",
    summary: "Prometheus metrics",
    description:
      "The instance's metrics in Prometheus' text format: the main thread's, the processor's and the cleaner's in one " +
      "scrape (the README lists them). Per-type gauges are read from the stores at most once a second. " +
      "`Authorization: Bearer` with METRICS_TOKEN or ADMIN_TOKEN; 403 when neither is configured.",
    responses: {
      200: { description: "the metrics", content: { "text/plain": { schema: S.MetricsText, examples: {} } } },
      ...errorAnswers(["unauthorized", "metrics_disabled"], {
        unauthorized: KEY_NEEDED.metrics,
      }),
    },
  },

  [`GET ${DOCS_PATHS.page}`]: {
    tag: "documentation",
    summary: "This documentation, as a page",
    description: "Swagger UI; its script and style come from this service, nothing from another host.",
    responses: { 200: text("the page", "text/html") },
  },
  [`GET ${DOCS_PATHS.spec}`]: {
    tag: "documentation",
    summary: "This documentation, as an OpenAPI 3.1 document",
    description: "What the page shows.",
    responses: { 200: ok("the document", S.OpenApiDocument, {}) },
  },
  [`GET ${DOCS_PATHS.script}`]: {
    tag: "documentation",
    summary: "The documentation page's script (Swagger UI)",
    description: "Served from the binary.",
    responses: { 200: text("the script", "text/javascript") },
  },
  [`GET ${DOCS_PATHS.style}`]: {
    tag: "documentation",
    summary: "The documentation page's style (Swagger UI)",
    description: "Served from the binary.",
    responses: { 200: text("the style sheet", "text/css") },
  },

  "GET /events": {
    tag: "events",
    summary: "Events and their ticket types",
    description:
      "Every event with its ticket types, stock and sale status, as an array; at most a second old. " +
      "`status` is sold_out when no stock is left and no hold is outstanding.",
    responses: {
      200: ok("the events", S.EventList, { events: [{ ...event, ticket_types: [listedType] }] }),
      ...errorAnswers(DOWN),
    },
  },

  "POST /queue/join": {
    tag: "queue",
    auth: "join-jwt",
    summary: "Join the queue for a ticket type",
    description:
      "Joins the fair FIFO queue for `quantity` tickets (default 1, at most the type's per_user_limit). " +
      "One live place per user and ticket type: joining again while it is live is 409 already_queued, " +
      "without the token (with JOIN_AUTH=jwt a verified rejoin gets the same token back). Before a sale " +
      "starts, a join inside the pre-queue window waits for it (`waiting_for_sale`, no position); earlier " +
      "it is 409 not_on_sale. With JOIN_AUTH=jwt the user is the JWT's `sub` and `user_id` may be left out.",
    requestExample: { user_id: "alice", ticket_type_id: 1, quantity: 2 },
    responses: {
      200: ok("a place in the queue (or the pre-queue)", S.JoinAnswer, {
        queued: {
          queue_token: TOKEN, position: 1, status: "queued", ticket_type_id: 1, quantity: 2,
          message: 'You are number 1 in the queue for "General Admission".',
        },
        waiting_for_sale: {
          queue_token: TOKEN, status: "waiting_for_sale", sale_starts_at: AT, ticket_type_id: 1, quantity: 2,
          message: STATUS_MESSAGES.waiting_for_sale,
        },
      }),
      ...errorAnswers(
        failures(BAD_BODY, [
          "quantity_over_limit", "unauthorized", "user_mismatch", "unknown_ticket_type",
          "sold_out", "already_queued", "quantity_over_capacity", "limit_reached", "not_on_sale",
        ], LIMITED, DOWN),
        { unauthorized: KEY_NEEDED.join },
      ),
    },
  },

  "GET /reservation/status": {
    tag: "reservations",
    summary: "Where a token stands",
    description:
      "In O(1) however long the queue is. `status` is one of " + S.API_STATUSES.join(", ") + ". " +
      "A booking reads `confirmed`, and `cancelled` once the shop or the operator cancelled it; both carry " +
      "`booking_id` and `booking_ref`, the public reference to show. " +
      "`ticket_type_id` in the query is accepted and ignored (the token names its type). A queued place says " +
      "what it waits for when that is not its turn: `waiting_for_held_tickets` with `next_release_at` when no " +
      "stock is left and people ahead hold every ticket (the earliest hold deadline, read from PostgreSQL at most " +
      "a second old, instead of a rate's estimate); `sale_starts_at` when the operator moved the sale's start " +
      "into the future (the place is kept). A hold says who confirms it (`confirm_by`, CONFIRM_BY) and, with " +
      "CHECKOUT_URL, carries `checkout_url`: the shop's checkout with a signed hand-off (GET /.well-known/jwks.json).",
    responses: {
      200: ok("the token's status", S.StatusAnswer, {
        queued: statusAnswer("queued", { position: 42, estimated_wait_seconds: 3 }),
        waiting_for_held_tickets: {
          ...statusAnswer("queued", { position: 1, waiting_for_held_tickets: true, next_release_at: AT }),
          message: heldTicketsMessage(Date.parse(AT)),
        },
        sale_moved: {
          ...statusAnswer("queued", { position: 42, sale_starts_at: AT }),
          message: postponedMessage(Date.parse(AT), 42),
        },
        reserved: statusAnswer("reserved", { expires_at: AT, confirm_by: "buyer" }),
        reserved_pay_at_shop: {
          ...statusAnswer("reserved", { expires_at: AT, confirm_by: "shop", checkout_url: "https://shop.example.com/checkout?hold=eyJhbGciOiJFZERTQSJ9..." }),
          message: SHOP_RESERVED_MESSAGE,
        },
        confirmed: statusAnswer("confirmed", { booking_id: 7, booking_ref: BOOKING_REF }),
        cancelled: statusAnswer("cancelled", { booking_id: 7, booking_ref: BOOKING_REF }),
        expired: statusAnswer("expired", {}),
      }),
      ...errorAnswers(failures(["invalid_input", "unknown_token"], LIMITED, DOWN), {
        invalid_input: "token: expected the queue_token string given on joining",
      }),
    },
  },

  "GET /reservation/stream": {
    tag: "reservations",
    summary: "Where a token stands, pushed as it changes (Server-Sent Events)",
    description:
      "`text/event-stream`, read by the browser's `EventSource`. Every message is `event: status` with an `id` that " +
      "grows and `data:` exactly the JSON that GET /reservation/status answers at that moment (its schema). The first " +
      "message goes out at once, then one whenever the answer changes (a position at most once a second). After a " +
      "final status (cancelled, expired, released, sold_out, lost, duplicate, invalid, limit_reached) the stream " +
      "closes; a `confirmed` one stays open, as the booking may still be cancelled. `: keep-alive` comments every 15 s; `retry:` advice of 1 to 5 s. Refusals come before any stream " +
      "starts, as JSON, as the status route's; so does 429 rate_limited for a client that already holds its cap of " +
      "open streams (RATE_LIMIT_OPEN_STREAMS) or opens them too often.",
    responses: {
      200: {
        description: "the stream of `status` events",
        content: {
          "text/event-stream": {
            schema: S.Text,
            examples: {
              queued: `retry: 3412\n\nid: 1\nevent: status\ndata: ${JSON.stringify(statusAnswer("queued", { position: 42, estimated_wait_seconds: 3 }))}\n\n`,
            },
          },
        },
      },
      ...errorAnswers(failures(["invalid_input", "unknown_token"], LIMITED, DOWN), {
        invalid_input: "token: expected the queue_token string given on joining",
      }),
    },
  },

  "POST /reservation/confirm": {
    tag: "reservations",
    summary: "Confirm a hold",
    description:
      "Turns the hold into a booking, at the type's price in the event's currency. Idempotent: a repeat answers the " +
      "same booking. With CONFIRM_BY=shop it is 403 confirm_by_shop: the shop confirms after payment (POST /shop/holds/{token}/confirm).",
    requestExample: { token: TOKEN },
    responses: {
      200: ok("booked", S.Confirmation, {
        confirmed: {
          status: "confirmed", booking_id: 7, booking_ref: BOOKING_REF, queue_token: TOKEN, ticket_type_id: 1, quantity: 2, amount: 90,
          currency: "EUR", confirmed_at: AT,
        },
      }),
      ...errorAnswers(failures(BAD_BODY, ["confirm_by_shop", "unknown_token"], confirm.codes, LIMITED, DOWN), confirm.messages),
    },
  },

  "POST /reservation/release": {
    tag: "reservations",
    summary: "Give a hold back, or leave the queue",
    description:
      "A hold's tickets return to stock at once. Idempotent: releasing again answers released. A hold the shop " +
      "extended (POST /shop/holds/{token}/extend: it is taking the payment) cannot be released: 409 " +
      "payment_in_progress, and nothing changes; it still lapses at its deadline unless the shop confirms it.",
    requestExample: { token: TOKEN },
    responses: {
      200: ok("released", S.Release, {
        hold: { status: "released", queue_token: TOKEN, ticket_type_id: 1, message: "Your hold was released; the tickets are back on sale." },
        queue: { status: "released", queue_token: TOKEN, ticket_type_id: 1, message: "You left the queue." },
      }),
      ...errorAnswers(failures(BAD_BODY, ["unknown_token"], release.codes, LIMITED, DOWN), release.messages),
    },
  },

  "GET /shop/holds/:token": {
    tag: "shop",
    auth: "shop",
    summary: "A hold, as the shop charges for it",
    description:
      "Server to server, with one of SHOP_API_KEYS. Who holds what until when, at which price and currency, read from " +
      "PostgreSQL; once booked, its booking. A token that is not one of ours is 404 unknown_token; one with no hold " +
      "(still queued, say) 404 no_hold.",
    responses: {
      200: ok("the hold", S.ShopHold, {
        reserved: {
          queue_token: TOKEN, status: "reserved", user_id: "alice", event_id: 1, event_name: "Demo Night", ticket_type_id: 1,
          ticket_type_name: "General Admission", quantity: 2, unit_price: 45, amount: 90, currency: "EUR", expires_at: AT, extended_seconds: 0,
        },
      }),
      ...errorAnswers(failures(SHOP, ["unknown_token", "no_hold"], DOWN), SHOP_MESSAGES),
    },
  },

  "POST /shop/holds/:token/confirm": {
    tag: "shop",
    auth: "shop",
    summary: "Book a hold after payment (safe to retry)",
    description:
      "Books the hold with the shop's `order_ref`. `Idempotency-Key` (1 to 255 characters, one per order) is required: the " +
      "same key with the same request again, from any instance, answers exactly as the first time, with " +
      "`Idempotent-Replayed: true`; with another request it is 422 idempotency_key_reused. Keys are kept in PostgreSQL, " +
      "written with the booking. `amount`, when given, must be unit_price x quantity (else 409 amount_mismatch, nothing " +
      "booked). Booked already (by the buyer, or under another key): 409 already_confirmed with its booking_id. A " +
      "refusal is not kept under the key: a retry is told what is true then.",
    requestExample: { order_ref: "ORD-1001", amount: 90 },
    responses: {
      201: {
        ...ok("booked (or, replayed, the first answer to this key)", S.ShopBooking, { booked: shopBooking }),
        headers: { "Idempotent-Replayed": "true when this is the answer given before to this Idempotency-Key" },
      },
      ...errorAnswers(
        failures(BAD_BODY, SHOP, ["idempotency_key_required", "unknown_token", "amount_mismatch", "already_confirmed", "idempotency_key_reused"],
          confirm.codes, DOWN),
        { ...confirm.messages, ...SHOP_MESSAGES },
      ),
    },
  },

  "GET /.well-known/jwks.json": {
    tag: "shop",
    summary: "The keys that sign checkout hand-offs",
    description:
      "A JWK Set (RFC 7517) of the Ed25519 public keys a shop verifies the `hold` JWT of a `checkout_url` with, offline " +
      "(jose's createRemoteJWKSet): the current key (CHECKOUT_SIGNING_KEY), and the previous one " +
      "(CHECKOUT_SIGNING_KEY_PREVIOUS) while keys rotate. A key's `kid` is its RFC 7638 thumbprint, named in the JWT's " +
      "header. The JWT (EdDSA) has iss (PUBLIC_URL), aud (CHECKOUT_AUDIENCE), sub (the user id), jti (the hold's id), " +
      "queue_token, ticket_type_id, quantity, amount, currency, iat, and exp: the hold's deadline. No auth. Without " +
      "CHECKOUT_URL: 404 checkout_disabled.",
    responses: {
      200: ok("the public keys", S.Jwks, {
        keys: { keys: [{ kty: "OKP", crv: "Ed25519", x: "4U5c5P64qcVgpiVLKbp2j6RjRZ2mlnmJvGVro46snys", kid: "eteC-SHfHrBD7CeswtHqKbmW50UuDwF29hMeOdm9HrM", alg: "EdDSA", use: "sig" }] },
      }),
      ...errorAnswers(["checkout_disabled"]),
    },
  },

  "POST /shop/holds/:token/extend": {
    tag: "shop",
    auth: "shop",
    summary: "Extend a hold while the payment runs",
    description:
      "Moves the hold's deadline on by `seconds` (3-D Secure, a bank redirect): all extensions of a hold together at most " +
      "HOLD_EXTEND_MAX_SECONDS (default 600), beyond it 409 extend_limit. Past the deadline it is 410 hold_expired and " +
      "the cleaner's expiry stands: PostgreSQL decides, so a race with the cleaner ends one way only. Once extended, " +
      "the buyer can no longer release the hold (409 payment_in_progress); a release that won the race first " +
      "makes this 409 released.",
    requestExample: { seconds: 120 },
    responses: {
      200: ok("the new deadline", S.Extension, { extended: { queue_token: TOKEN, expires_at: AT, extended_seconds: 120 } }),
      ...errorAnswers(
        failures(BAD_BODY, SHOP, ["unknown_token", "extend_limit", "already_confirmed"], confirm.codes, DOWN),
        { ...confirm.messages, ...SHOP_MESSAGES },
      ),
    },
  },

  "POST /shop/bookings/:id/cancel": cancelDoc("shop", "The shop"),
  "POST /admin/bookings/:id/cancel": cancelDoc("admin", "The operator"),

  "POST /admin/events": {
    tag: "admin",
    auth: "admin",
    summary: "Create an event",
    description: "A field the route does not take is refused (400).",
    requestExample: { name: "Spring Gala", venue: "Main Hall", starts_at: "2027-04-10T19:30:00+02:00" },
    responses: {
      201: ok("the event", S.AdminEvent, { created: { ...event, name: "Spring Gala", starts_at: "2027-04-10T17:30:00.000Z" } }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, DOWN)),
    },
  },

  "PATCH /admin/events/:id": {
    tag: "admin",
    auth: "admin",
    summary: "Change an event",
    description: "Changes the fields given (at least one).",
    requestExample: { description: "Doors open at 19:00" },
    responses: {
      200: ok("the event", S.AdminEvent, { changed: { ...event, description: "Doors open at 19:00" } }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, ["unknown_event"], DOWN)),
    },
  },

  "POST /admin/events/:id/ticket-types": {
    tag: "admin",
    auth: "admin",
    summary: "Add a ticket type to an event",
    description:
      "On sale at once (or from `sale_starts_at`) with its whole capacity in stock; per_user_limit 4 when left out.",
    requestExample: { name: "Stalls", price: 59.5, capacity: 300, per_user_limit: 4 },
    responses: {
      201: ok("the ticket type", S.AdminTicketType, {
        created: { ...adminTicketType, id: 4, name: "Stalls", price: 59.5, capacity: 300, stock: 300 },
      }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, ["unknown_event"], DOWN)),
    },
  },

  "PATCH /admin/ticket-types/:id": {
    tag: "admin",
    auth: "admin",
    summary: "Change a ticket type, also mid-sale",
    description:
      "Changes the fields given (at least one). A new capacity moves the stock by the same amount under the " +
      "type's row lock; below what is held and confirmed it is refused (409 capacity_below_sold) and nothing changes. " +
      "`paused` stops serving (joins still queue); `max_active_holds` and `holds_per_minute` limit admission (null: none); " +
      "`hold_seconds` is how long its holds last (null: RESERVATION_TTL_SECONDS), read by the grant itself.",
    requestExample: { capacity: 350, paused: false },
    responses: {
      200: ok("the ticket type", S.AdminTicketType, { changed: { ...adminTicketType, capacity: 350, stock: 262 } }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, ["unknown_ticket_type", "capacity_below_sold"], DOWN)),
    },
  },

  "GET /admin/ticket-types/:id": {
    tag: "admin",
    auth: "admin",
    summary: "A ticket type's live figures",
    description:
      "Stock and tickets by hold status from PostgreSQL (capacity = stock + held + confirmed), the queue from Redis. " +
      "While Redis is unreachable the answer is still 200, with every Redis figure null and `redis: unavailable`.",
    responses: {
      200: ok("the figures", S.TicketTypeFigures, {
        figures: {
          id: 1, event_id: 1, name: "General Admission", capacity: 500, stock: 412, held: 36, confirmed: 52, expired: 6,
          released: 4, people_queued: 118, people_prequeued: 0, batches_in_flight: 0, serving_rate: 240.5, oldest_waiting_place: 231,
          next_hold_deadline: AT, redis: "ok",
        },
      }),
      ...errorAnswers(failures(["invalid_input"], ADMIN, ["unknown_ticket_type"], DOWN), {
        invalid_input: "id: expected a whole number from 1 to 2147483647",
      }),
    },
  },

  "GET /admin/events": {
    tag: "admin",
    auth: "admin",
    summary: "Every event with its ticket types, as the operator set them",
    description: "Newest event first, its types by id, with the operator's fields (hold_seconds, pause, admission limits) read now.",
    responses: {
      200: ok("the events", S.AdminEventListing, { events: [{ ...event, ticket_types: [adminTicketType] }] }),
      ...errorAnswers(failures(ADMIN, DOWN)),
    },
  },

  "GET /admin/events/:id/figures": {
    tag: "admin",
    auth: "admin",
    summary: "The live figures of every ticket type of an event, at once",
    description:
      "Each type's figures as GET /admin/ticket-types/:id gives them, with holds outstanding, tickets of cancelled bookings, " +
      "and two counts that only grow (holds granted, bookings made): rates come from two readings. One request a second " +
      "serves the console. While Redis is unreachable the answer is still 200, each type's Redis figures null.",
    responses: {
      200: ok("the figures", S.EventFigures, {
        figures: {
          event_id: 1, read_at: AT,
          ticket_types: [{
            id: 1, event_id: 1, name: "General Admission", capacity: 500, stock: 412, held: 36, confirmed: 52, expired: 6,
            released: 4, people_queued: 118, people_prequeued: 0, batches_in_flight: 0, serving_rate: 240.5, oldest_waiting_place: 231,
            next_hold_deadline: AT, redis: "ok", holds: 18, cancelled: 2, holds_granted: 60, bookings: 27,
          }],
        },
      }),
      ...errorAnswers(failures(["invalid_input"], ADMIN, ["unknown_event"], DOWN), {
        invalid_input: "id: expected a whole number from 1 to 2147483647",
      }),
    },
  },

  "GET /admin/events/:id/bookings": {
    tag: "admin",
    auth: "admin",
    summary: "Export an event's bookings",
    description:
      "Ordered by booking id, `limit` a page (default 1000, at most 10000), as JSON or CSV (`format`). Pass the " +
      "last page's cursor back for the next; bookings made meanwhile appear on a later page, none is skipped. " +
      "CSV comes with Content-Disposition, and with the next page's URL in Link (its cursor in X-Next-Cursor).",
    responses: {
      200: {
        description: "a page of bookings",
        content: {
          [JSON_TYPE]: {
            schema: S.BookingsPage,
            examples: {
              page: {
                bookings: [{
                  booking_id: 1, booking_ref: BOOKING_REF, order_ref: "ORD-1001", user_id: "alice", ticket_type_id: 1,
                  ticket_type_name: "General Admission", quantity: 2, amount: 90, currency: "EUR", status: "confirmed",
                  created_at: AT, cancelled_at: null,
                }],
                next_cursor: null,
              },
            },
          },
          "text/csv": {
            schema: S.BookingsCsv,
            examples: {
              page:
                "booking_id,booking_ref,order_ref,user_id,ticket_type_id,ticket_type_name,quantity,amount,currency,status,created_at,cancelled_at\r\n" +
                `1,"${BOOKING_REF}","ORD-1001","alice",1,"General Admission",2,90,EUR,confirmed,${AT},\r\n`,
            },
          },
        },
        headers: { Link: 'CSV, when more follow: <next page URL>; rel="next"', "X-Next-Cursor": "CSV, when more follow: the next cursor" },
      },
      ...errorAnswers(failures(["invalid_input", "invalid_cursor"], ADMIN, ["unknown_event"], DOWN), {
        invalid_input: "format: expected csv or json",
      }),
    },
  },

  "GET /admin/audit": {
    tag: "admin",
    auth: "admin",
    summary: "The audit log of admin changes (and the shop's cancels)",
    description:
      "Every change made through the admin routes, and every booking cancel by the shop, newest first, `limit` a " +
      "page (default 1000, at most 10000); pass " +
      "the last page's cursor back for the next (older) one. Each entry is written in the change's own transaction: " +
      "a refused change has none, a PATCH that changed no value has one with empty `changes`. `actor` says who: " +
      "`admin`, or `shop:` and a fingerprint of the shop key used (the first 8 hex characters of its SHA-256).",
    responses: {
      200: ok("a page of entries", S.AuditPage, {
        page: {
          entries: [{
            id: 12, at: AT, actor: "admin", route: "PATCH /admin/ticket-types/:id", target: { type: "ticket_type", id: 4 },
            changes: { capacity: { old: 300, new: 350 }, paused: { old: false, new: true } },
            request_id: REQUEST_ID_EXAMPLE, client: "203.0.113.7",
          }, {
            id: 11, at: AT, actor: "shop:3f9a1c07", route: "POST /shop/bookings/:id/cancel", target: { type: "booking", id: 7 },
            changes: { status: { old: "confirmed", new: "cancelled" }, cancel_reason: { old: null, new: "refund" } },
            request_id: "m2p8w4cz-7a", client: "198.51.100.20",
          }],
          next_cursor: "YXVkaXQ6MTI",
        },
      }),
      ...errorAnswers(failures(["invalid_input", "invalid_cursor"], ADMIN, DOWN), {
        invalid_input: "limit: expected a whole number from 1 to 10000",
        invalid_cursor: messageOf("invalid_cursor", "the audit log"),
      }),
    },
  },

  "POST /admin/webhooks": {
    tag: "admin",
    auth: "admin",
    summary: "Register a webhook endpoint",
    description:
      "Events are posted to `url` (http or https, no user name or password, at most 2048 characters), signed as " +
      "Standard Webhooks sign them (the document's webhooks describe each event and the headers). `events`: the types " +
      "to send, `*` for all (hold.granted too: one event per hold, busy); duplicates are dropped. The answer's " +
      "`secret` is shown here and by rotate-secret only: keep it. Every change to an endpoint is in the audit log, never its secret.",
    requestExample: { url: "https://shop.example.com/hooks/tickets", events: ["booking.confirmed", "booking.cancelled"], description: "the shop" },
    responses: {
      201: ok("the endpoint, with its secret", S.WebhookCreated, { created: webhookCreated }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, DOWN), { invalid_input: "url: " + URL_EXPECTED }),
    },
  },

  "GET /admin/webhooks": {
    tag: "admin",
    auth: "admin",
    summary: "The webhook endpoints",
    description: "Every endpoint, by id, without its secret.",
    responses: {
      200: ok("the endpoints", S.WebhookList, { list: { webhooks: [webhook] } }),
      ...errorAnswers(failures(ADMIN, DOWN)),
    },
  },

  "GET /admin/webhooks/:id": {
    tag: "admin",
    auth: "admin",
    summary: "A webhook endpoint",
    description: "Without its secret. An id that is none (or no number) is 404 unknown_webhook.",
    responses: {
      200: ok("the endpoint", S.Webhook, { endpoint: webhook }),
      ...errorAnswers(failures(ADMIN, ["unknown_webhook"], DOWN)),
    },
  },

  "PATCH /admin/webhooks/:id": {
    tag: "admin",
    auth: "admin",
    summary: "Change a webhook endpoint",
    description:
      "Changes the fields given (at least one). `enabled: false` stops new deliveries being written for it (the " +
      "pending ones stay); a change of `events` applies to events from then on.",
    requestExample: { enabled: false },
    responses: {
      200: ok("the endpoint", S.Webhook, { changed: { ...webhook, enabled: false } }),
      ...errorAnswers(failures(BAD_BODY, ADMIN, ["unknown_webhook"], DOWN), { invalid_input: "enabled: expected true or false" }),
    },
  },

  "DELETE /admin/webhooks/:id": {
    tag: "admin",
    auth: "admin",
    summary: "Delete a webhook endpoint and its deliveries",
    description: "Its deliveries go in the same statement, pending ones too (they are never sent).",
    responses: {
      200: ok("deleted", S.WebhookDeleted, { deleted: { id: 3, deleted: true, deliveries_deleted: 42 } }),
      ...errorAnswers(failures(ADMIN, ["unknown_webhook"], DOWN)),
    },
  },

  "POST /admin/webhooks/:id/rotate-secret": {
    tag: "admin",
    auth: "admin",
    summary: "Rotate a webhook endpoint's secret",
    description:
      "A new secret, shown here only. For 24 hours the one it replaces signs alongside (webhook-signature carries both), " +
      "so the receiver can switch without missing an event; rotating again within them drops the oldest at once.",
    responses: {
      200: ok("the new secret", S.WebhookRotated, {
        rotated: { id: 3, secret: "whsec_S7jwBDkpCLiyL3ulpsrOsTfR0TV0u5kb", previous_secret_expires_at: "2026-12-02T08:02:11.204Z" },
      }),
      ...errorAnswers(failures(ADMIN, ["unknown_webhook"], DOWN)),
    },
  },

  "GET /admin/webhooks/:id/deliveries": {
    tag: "admin",
    auth: "admin",
    summary: "A webhook endpoint's deliveries",
    description:
      "Newest first, `status` pending, delivered or failed (all when left out), `limit` a page (default 1000, at most " +
      "10000); pass the last page's cursor back for the next (older) one. `webhook_id` is the event's webhook-id " +
      "header, `payload` the body posted.",
    responses: {
      200: ok("a page of deliveries", S.WebhookDeliveriesPage, { page: { deliveries: [delivery], next_cursor: null } }),
      ...errorAnswers(failures(["invalid_input", "invalid_cursor"], ADMIN, ["unknown_webhook"], DOWN), {
        invalid_input: "status: expected pending, delivered or failed",
        invalid_cursor: messageOf("invalid_cursor", "this endpoint's deliveries"),
      }),
    },
  },

  "POST /admin/webhooks/deliveries/:id/retry": {
    tag: "admin",
    auth: "admin",
    summary: "Send a delivered or failed delivery once more",
    description:
      "Back to pending, due now: one more attempt (its attempts count on; should it fail, it is failed again). A pending " +
      "delivery is 409 delivery_pending: it is sent already, and a worker may be sending it right now.",
    responses: {
      200: ok("the delivery, pending", S.WebhookDelivery, {
        retried: { ...delivery, status: "pending", next_attempt_at: AT, attempts: 8, last_status_code: 503, last_error: "HTTP 503", delivered_at: null },
      }),
      ...errorAnswers(failures(ADMIN, ["unknown_delivery", "delivery_pending"], DOWN)),
    },
  },
};

