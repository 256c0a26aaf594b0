// Every error code the API answers with: its HTTP status and its one message, or the template
// that makes the message from the values it names. Throws make their errors from here
// (src/core/errors.ts' fail), and the OpenAPI document (src/api/docs.ts) reads each code's status and
// example message from here; test/openapi.test.ts checks that every code here is documented and
// every documented code is here. Confirm's and release's refusals are src/domain/states.ts'
// tables (a refusal for each state of the token): the codes they use are here with their status.
import { CONFIRM_REFUSALS, PAYMENT_IN_PROGRESS, type Refusal } from "../domain/states";

/** A code whose message is what was found wrong, said where it was found (a field, a key, a JWT). */
const found = (what: string) => what;

/** A refusal's status, and its message (the first state's, where the tables word it by state). */
const refusal = (r: Refusal) => ({ status: r.status, message: r.message });

/** What unauthorized says each API needs (a refused JWT is told what is wrong with it instead). */
export const KEY_NEEDED = {
  admin: "the admin API needs Authorization: Bearer <ADMIN_TOKEN>",
  shop: "the shop API needs Authorization: Bearer <one of SHOP_API_KEYS>",
  metrics: "metrics need Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>",
  join: "joining needs Authorization: Bearer <JWT> from your login",
} as const;

export const ERROR_CODES = {
  // the request
  invalid_input: { status: 400, message: found },
  invalid_json: { status: 400, message: "request body is not valid JSON" },
  body_too_large: { status: 413, message: (kib: number) => `request body is larger than ${kib} KiB` },
  invalid_cursor: { status: 400, message: (listing: string) => `cursor: expected a cursor from a previous page of ${listing}` },
  not_found: { status: 404, message: "no such route" },
  method_not_allowed: { status: 405, message: (allowed: string) => `this route answers ${allowed} only` },
  rate_limited: {
    status: 429,
    message: (seconds: number, openStreams?: number) => openStreams === undefined
      ? `too many requests from your address; try again in ${seconds} s`
      : `too many live streams open from your address (${openStreams}); close one or poll the status`,
  },

  // who asks
  unauthorized: { status: 401, message: found },
  admin_disabled: { status: 403, message: "the admin API is off: set ADMIN_TOKEN to turn it on" },
  shop_disabled: { status: 403, message: "the shop API is off: set SHOP_API_KEYS to turn it on" },
  metrics_disabled: { status: 403, message: "metrics are off: set METRICS_TOKEN or ADMIN_TOKEN to turn them on" },
  user_mismatch: { status: 403, message: "user_id is not the user the token was issued to" },

  // the service
  unavailable: { status: 503, message: (dependency: string) => `${dependency} is unavailable; try again shortly` },
  not_ready: { status: 503, message: (failing: string) => `not ready: ${failing}` },
  internal: { status: 500, message: "something went wrong on our side; it has been logged" },

  // events, ticket types, bookings
  unknown_event: { status: 404, message: "no event has this id" },
  unknown_ticket_type: { status: 404, message: "no ticket type has this id" },
  unknown_booking: { status: 404, message: "no booking has this id" },
  capacity_below_sold: { status: 409, message: (sold: number) => `capacity cannot go below the ${sold} tickets held and confirmed` },

  // webhooks (the admin API)
  unknown_webhook: { status: 404, message: "no webhook endpoint has this id" },
  unknown_delivery: { status: 404, message: "no webhook delivery has this id" },
  delivery_pending: {
    status: 409, message: "this delivery is pending: it is sent again already (a worker may be sending it right now)",
  },

  // joining
  quantity_over_limit: {
    status: 400, message: (perUserLimit: number, typeName: string) => `at most ${perUserLimit} tickets of "${typeName}" per person`,
  },
  quantity_over_capacity: { status: 409, message: (capacity: number, typeName: string) => `only ${capacity} tickets of "${typeName}" exist` },
  not_on_sale: {
    status: 409,
    message: (typeName: string, saleStartsAt: string, prequeueMinutes: number) =>
      `"${typeName}" goes on sale at ${saleStartsAt}; joining opens ${prequeueMinutes === 0 ? "then" : `${prequeueMinutes} minutes before`}`,
  },
  already_queued: {
    status: 409,
    message: (typeName: string, status: "queued" | "reserved" | "waiting_for_sale") => ({
      reserved: `This user already holds tickets for "${typeName}"; confirm them with the queue token given on joining.`,
      queued: `This user is already in the queue for "${typeName}"; follow it with the queue token given on joining.`,
      waiting_for_sale: `This user is already waiting for the sale of "${typeName}"; follow it with the queue token given on joining.`,
    })[status],
  },
  // a join names the type; confirm and release refuse a token whose turn ended so (no type at hand)
  sold_out: {
    status: 409, message: (typeName?: string) => (typeName === undefined ? CONFIRM_REFUSALS.sold_out.message : `"${typeName}" is sold out`),
  },
  limit_reached: {
    status: 409,
    message: (typeName?: string, perUserLimit = 0, booked = 0) => typeName === undefined
      ? CONFIRM_REFUSALS.limit_reached.message
      : `one person may book ${perUserLimit} tickets of "${typeName}"; you booked ${booked}, so ${Math.max(0, perUserLimit - booked)} remain`,
  },

  // tokens and holds
  unknown_token: { status: 404, message: "this token is not one of ours" },
  no_hold: { status: 404, message: "no tickets are held for this token (it may still be queued)" },
  confirm_by_shop: {
    status: 403,
    message: "this sale is confirmed by the shop after payment: continue to checkout, your tickets stay held until expires_at",
  },
  not_reserved: refusal(CONFIRM_REFUSALS.queued),
  in_progress: refusal(CONFIRM_REFUSALS.pending),
  hold_expired: refusal(CONFIRM_REFUSALS.expired),
  released: refusal(CONFIRM_REFUSALS.released),
  booking_cancelled: refusal(CONFIRM_REFUSALS.cancelled),
  duplicate: refusal(CONFIRM_REFUSALS.duplicate),
  invalid: refusal(CONFIRM_REFUSALS.invalid),
  place_lost: refusal(CONFIRM_REFUSALS.lost),
  payment_in_progress: refusal(PAYMENT_IN_PROGRESS),
  already_confirmed: { status: 409, message: "this hold is booked already" },

  // the shop
  checkout_disabled: { status: 404, message: "no checkout hand-off is configured (CHECKOUT_URL)" },
  idempotency_key_required: {
    status: 400, message: "the Idempotency-Key header is required: one key per order, reused on retries",
  },
  idempotency_key_reused: {
    status: 422, message: "this Idempotency-Key was used for another request; use a new key for a new request",
  },
  amount_mismatch: {
    status: 409, message: (expected: number) => `amount: this hold costs ${expected} (unit_price x quantity); nothing was booked`,
  },
  extend_limit: {
    status: 409, message: (max: number, remaining: number) => `a hold may be extended by ${max} seconds in all; ${remaining} remain`,
  },
} as const satisfies Record<string, { status: number; message: string | ((...values: never[]) => string) }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The values a code's message names (none for a fixed message). */
export type MessageValues<C extends ErrorCode> = (typeof ERROR_CODES)[C]["message"] extends (...values: infer V) => string ? V : [];

/** A code's message, made from `values` where it names some. */
export function messageOf<C extends ErrorCode>(code: C, ...values: MessageValues<C>): string {
  const message: string | ((...v: never[]) => string) = ERROR_CODES[code].message;
  return typeof message === "string" ? message : message(...(values as never[]));
}
