import { Elysia, t } from "elysia";
import { notFound } from "../errors";
import type { Services } from "../services";
import type { TokenParts } from "../tokens";
import { confirmHold } from "./confirm";
import { releaseToken } from "./release";
import { reservationStatus } from "./status";
import { openStream } from "./stream";

// Descriptions are what a refusal says (app.ts), so it never echoes input.
const TokenString = t.String({ minLength: 1, maxLength: 512, description: "expected the queue_token string given on joining" });
export const TokenBody = t.Object({ token: TokenString }, { description: "expected a JSON object {token}" });
// ticket_type_id is accepted for the original's clients and ignored: the token names its type.
export const StatusQuery = t.Object(
  { token: TokenString, ticket_type_id: t.Optional(t.String({ description: "ignored" })) },
  { description: "expected ?token=<queue_token>" },
);

export const reservationRoutes = (s: Services) => {
  /** A forged, tampered or foreign token stops here: it never becomes a Redis or SQL key. */
  const verified = (token: string): TokenParts => {
    const parts = s.tokens.verify(token);
    if (!parts) throw notFound("unknown_token", "this token is not one of ours");
    return parts;
  };
  return new Elysia({ prefix: "/reservation" })
    .get("/status", ({ query }) => reservationStatus(s, verified(query.token), query.token), {
      query: StatusQuery,
    })
    .get("/stream", ({ query, request, server }) => openStream(s, verified(query.token), query.token, request, server), { query: StatusQuery })
    .post("/confirm", ({ body }) => confirmHold(s, verified(body.token), body.token), { body: TokenBody })
    .post("/release", ({ body }) => releaseToken(s, verified(body.token), body.token), { body: TokenBody });
};
