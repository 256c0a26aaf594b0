// The shop's API (/shop/...), server to server with a bearer key (shop/auth.ts): read a hold,
// book it after payment (safe to retry with an Idempotency-Key), extend it while the payment
// runs, cancel a booking. docs/payments.md walks through it with curl.
import { Type as t } from "@sinclair/typebox";
import { auditContext } from "../admin/audit";
import { BookingParams, CancelBody, cancelBooking } from "../admin/cancel";
import { fail } from "../core/errors";
import { onlyKnownFields } from "../admin/events";
import { pathId } from "../admin/ids";
import type { Config } from "../config/config";
import type { HoldDeps } from "../reservations/finish";
import type { TokenParts, Tokens } from "../domain/tokens";
import { shopActor, shopScope } from "./auth";
import { idempotencyKeyOf, shopConfirm } from "./confirm";
import { extendHold } from "./extend";
import { shopHold } from "../holds/shop-hold";
import { ONE_LINE } from "../admin/events";

// TypeBox's own types, strict (no "5" for 5). Descriptions are what a refusal says (app.ts), so
// it never echoes input.
export const TokenParams = t.Object(
  { token: t.String({ minLength: 1, maxLength: 512, description: "expected the queue_token of a hold" }) },
  { description: "expected a queue token in the path" },
);
export const ShopConfirmBody = t.Object(
  {
    order_ref: t.String({ minLength: 1, maxLength: 128, pattern: ONE_LINE, description: "expected the shop's order id: 1 to 128 characters, without control characters" }),
    amount: t.Optional(t.Number({ minimum: 0, maximum: 1e12, description: "expected the amount charged: unit_price x quantity" })),
  },
  { additionalProperties: false, description: "expected a JSON object {order_ref, amount?} and nothing else" },
);
export const ExtendBody = t.Object(
  { seconds: t.Integer({ minimum: 1, maximum: 86_400, description: "expected a whole number of seconds from 1 to HOLD_EXTEND_MAX_SECONDS" }) },
  { additionalProperties: false, description: "expected a JSON object {seconds} and nothing else" },
);

export const shopRoutes = (s: HoldDeps & { config: Config; tokens: Tokens }) => {
  /** A forged, tampered or foreign token stops here: it never becomes a Redis or SQL key. */
  const verified = (token: string): TokenParts => {
    const parts = s.tokens.verify(token);
    if (!parts) throw fail("unknown_token");
    return parts;
  };
  return shopScope(s)
    .get("/holds/:token", ({ params }) => {
      verified(params.token);
      return shopHold(s.sql, params.token);
    }, { params: TokenParams })
    .post("/holds/:token/confirm", async ({ params, body, request, set }) => {
      const key = idempotencyKeyOf(request.headers.get("idempotency-key"));
      const parts = verified(params.token);
      const done = await shopConfirm(s, parts, params.token, key, body.order_ref, body.amount ?? null);
      set.status = done.status;
      if (done.replayed) set.headers["idempotent-replayed"] = "true";
      return done.body;
    }, { params: TokenParams, body: ShopConfirmBody, transform: onlyKnownFields(ShopConfirmBody) })
    .post("/holds/:token/extend", ({ params, body }) => {
      const max = s.config.HOLD_EXTEND_MAX_SECONDS;
      if (body.seconds > max) throw fail("invalid_input", `seconds: expected a whole number from 1 to ${max}`);
      return extendHold(s, verified(params.token), params.token, body.seconds);
    }, { params: TokenParams, body: ExtendBody, transform: onlyKnownFields(ExtendBody) })
    .post("/bookings/:id/cancel", ({ params, body, ...context }) =>
      cancelBooking(s, pathId(params.id), body?.reason ?? null, auditContext(s, context, shopActor(context.request))), {
      params: BookingParams, body: t.Optional(CancelBody), transform: onlyKnownFields(CancelBody),
    });
};
