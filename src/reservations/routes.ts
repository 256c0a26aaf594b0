import { Elysia, t } from "elysia";
import { fail } from "../core/errors";
import type { Limits } from "../rate-limit/limits";
import type { HoldDeps } from "./finish";
import type { StreamHub } from "./stream-hub";
import type { TokenParts } from "../domain/tokens";
import { confirmHold } from "./confirm";
import { releaseToken } from "./release";
import { reservationStatus, type StatusDeps } from "./status";
import { openStream } from "./stream";

// Descriptions are what a refusal says (app.ts), so it never echoes input.
const TokenString = t.String({ minLength: 1, maxLength: 512, description: "expected the queue_token string given on joining" });
export const TokenBody = t.Object({ token: TokenString }, { description: "expected a JSON object {token}" });
// ticket_type_id is accepted for the original's clients and ignored: the token names its type.
export const StatusQuery = t.Object(
  { token: TokenString, ticket_type_id: t.Optional(t.String({ description: "ignored" })) },
  { description: "expected ?token=<queue_token>" },
);

/** CONFIRM_BY=shop: only the shop books, after payment (POST /shop/holds/:token/confirm). */
export const confirmByShop = () => fail("confirm_by_shop");

export const reservationRoutes = (s: StatusDeps & HoldDeps & { streams: StreamHub }, limits: Limits) => {
  /** A forged, tampered or foreign token stops here: it never becomes a Redis or SQL key. */
  const verified = (token: string): TokenParts => {
    const parts = s.tokens.verify(token);
    if (!parts) throw fail("unknown_token");
    return parts;
  };
  return new Elysia({ prefix: "/reservation" })
    .get("/status", ({ query }) => reservationStatus(s, verified(query.token), query.token), {
      query: StatusQuery, ...limits.hook("status"),
    })
    .get("/stream", ({ query, request, server }) => {
      const parts = verified(query.token);
      return openStream(s, parts, query.token, request, server, limits.openStream(request, server));
    }, { query: StatusQuery, ...limits.hook("stream") })
    .post("/confirm", ({ body }) => {
      if (s.config.CONFIRM_BY === "shop") throw confirmByShop();
      return confirmHold(s, verified(body.token), body.token);
    }, { body: TokenBody, ...limits.hook("confirm") })
    .post("/release", ({ body }) => releaseToken(s, verified(body.token), body.token), { body: TokenBody, ...limits.hook("confirm") });
};
