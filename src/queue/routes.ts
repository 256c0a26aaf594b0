import { Elysia, t } from "elysia";
import type { Services } from "../services";
import { joinQueue } from "./join";
import { JoinBatcher } from "./join-batcher";

export const JoinBody = t.Object({
  // The original's clients send numbers or strings; both name a user.
  user_id: t.Union([
    t.String({ minLength: 1, maxLength: 128, pattern: "^[^\\x00-\\x1f\\x7f]+$" }),
    t.Integer({ minimum: 0 }),
  ]),
  ticket_type_id: t.Integer({ minimum: 1, maximum: 2147483647 }),
  quantity: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
});

export const queueRoutes = (s: Services) => {
  const batcher = new JoinBatcher(s);
  return new Elysia().post(
    "/queue/join",
    ({ body }) =>
      joinQueue(s, batcher, {
        userId: String(body.user_id),
        ticketTypeId: body.ticket_type_id,
        quantity: body.quantity ?? 1,
      }),
    { body: JoinBody },
  );
};
