import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { Limits } from "../rate-limit/limits";
import type { KeysOf } from "../store/redis";
import type { JoinIdentity } from "./join-identity";
import { joinQueue, type JoinDeps } from "./join";
import { JoinBatcher } from "./join-batcher";
import { USER_ID_EXPECTED } from "./user-id";

// TypeBox's own Integer: Elysia's t.Integer would turn "5" (or "\n5", "1e0") into 5.
// Each description is what a refusal says about the field (app.ts), so it never echoes input.
export const JoinBody = Type.Object(
  {
    // The original's clients send numbers or strings; user-id.ts decides which are acceptable.
    // Optional here: with JOIN_AUTH=jwt the token names the user (join-identity.ts).
    user_id: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: USER_ID_EXPECTED })),
    ticket_type_id: Type.Integer({
      minimum: 1,
      maximum: 2147483647,
      description: "expected a whole number from 1 to 2147483647",
    }),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "expected a whole number from 1 to 1000" })),
  },
  { description: "expected a JSON object {user_id, ticket_type_id, quantity?}" },
);

export const queueRoutes = (s: JoinDeps & { keys: KeysOf; joinIdentity: JoinIdentity }, limits: Limits) => {
  const batcher = new JoinBatcher(s);
  return new Elysia().post(
    "/queue/join",
    async ({ body, request }) => {
      const who = await s.joinIdentity.resolve(request.headers.get("authorization"), body.user_id);
      return joinQueue(s, batcher, {
        ...who,
        ticketTypeId: body.ticket_type_id,
        quantity: body.quantity ?? 1,
      });
    },
    { body: JoinBody, ...limits.hook("join") },
  );
};
