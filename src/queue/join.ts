// Joining the queue: one atomic Redis step (batched with the joins arriving alongside), after
// the ticket type checks that need no round trip.
import { crashPoint } from "../crash-points";
import { AppError, badRequest, conflict, during, notFound } from "../errors";
import type { Services } from "../services";
import type { JoinBatcher } from "./join-batcher";

/** `verified`: a verified identity (JOIN_AUTH=jwt) named the user, so a rejoin may see their token. */
export type JoinInput = { userId: string; verified: boolean; ticketTypeId: number; quantity: number };

export type JoinAnswer = {
  queue_token: string;
  position: number;
  status: "queued" | "reserved";
  ticket_type_id: number;
  quantity: number;
  expires_at?: string;
  message: string;
};

export async function joinQueue(s: Services, batcher: JoinBatcher, input: JoinInput): Promise<JoinAnswer> {
  const { userId, verified, ticketTypeId, quantity } = input;
  const type = await s.catalog.ticketType(ticketTypeId);
  if (!type) throw notFound("unknown_ticket_type", `ticket type ${ticketTypeId} does not exist`);
  if (quantity > type.per_user_limit) {
    throw badRequest(
      "quantity_over_limit",
      `at most ${type.per_user_limit} tickets of "${type.name}" per person`,
    );
  }
  if (type.status === "sold_out") throw conflict("sold_out", `"${type.name}" is sold out`);
  // it could never be served: refuse it now rather than tell it "sold out" at its turn
  if (quantity > type.capacity) {
    throw conflict(
      "quantity_over_capacity",
      `only ${type.capacity} tickets of "${type.name}" exist`,
    );
  }

  const fresh = s.tokens.issue(ticketTypeId);
  const reply = await during("Redis", () =>
    batcher.join(ticketTypeId, type.per_user_limit, { id: fresh.id, userId, quantity, token: fresh.token }),
  );
  if (reply.kind === "limit") {
    const remaining = Math.max(0, type.per_user_limit - reply.booked);
    throw new AppError(
      409,
      "limit_reached",
      `one person may book ${type.per_user_limit} tickets of "${type.name}"; you booked ${reply.booked}, so ${remaining} remain`,
      {},
      { remaining },
    );
  }
  crashPoint("join:queued");
  if (reply.kind === "joined" && reply.queueLength === 1) {
    // This join found the queue empty (one join of a call at most): tell the processors it
    // has people again.
    await during("Redis", () => s.redis.sadd(s.activeKey, String(ticketTypeId)));
  }

  const held = reply.kind === "existing" && reply.state === "reserved";
  if (reply.kind === "existing" && !verified) throw alreadyQueued(type.name, held ? "reserved" : "queued");

  const position = held ? 0 : Math.max(1, reply.place - reply.served);
  const answer: JoinAnswer = {
    queue_token: reply.id === fresh.id ? fresh.token : s.tokens.sign(ticketTypeId, reply.id),
    position,
    status: held ? "reserved" : "queued",
    ticket_type_id: ticketTypeId,
    quantity: reply.quantity,
    message: "",
  };
  if (reply.kind === "existing" && held) {
    answer.expires_at = new Date(reply.expiresAt ?? 0).toISOString();
    answer.message = `You already hold tickets for "${type.name}"; confirm them before ${answer.expires_at}.`;
  } else if (reply.kind === "existing") {
    answer.message = `You are already in the queue for "${type.name}", number ${position}.`;
  } else {
    answer.message = `You are number ${position} in the queue for "${type.name}".`;
  }
  return answer;
}

/**
 * A rejoin that only named the user: anyone can send a user id, so the live place's token (and
 * its position and deadline) stay with whoever joined first.
 */
function alreadyQueued(typeName: string, status: "queued" | "reserved"): AppError {
  const message = status === "reserved"
    ? `This user already holds tickets for "${typeName}"; confirm them with the queue token given on joining.`
    : `This user is already in the queue for "${typeName}"; follow it with the queue token given on joining.`;
  return new AppError(409, "already_queued", message, {}, { status });
}
