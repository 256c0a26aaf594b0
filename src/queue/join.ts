// Joining the queue: one atomic Redis step (batched with the joins arriving alongside), after
// the ticket type checks that need no round trip.
import { crashPoint } from "../core/crash-points";
import { AppError, badRequest, conflict, during, notFound } from "../core/errors";
import type { Services } from "../services";
import type { JoinBatcher } from "./join-batcher";
import { markPrequeued } from "../sale-start/prequeued";

/** `verified`: a verified identity (JOIN_AUTH=jwt) named the user, so a rejoin may see their token. */
export type JoinInput = { userId: string; verified: boolean; ticketTypeId: number; quantity: number };

/** A queued place has a position; a place waiting for the sale has its start instead. */
export type JoinAnswer = {
  queue_token: string;
  position?: number;
  status: "queued" | "reserved" | "waiting_for_sale";
  sale_starts_at?: string | null;
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

  // Only the window before the sale is refused here; whether the sale has started is
  // join-3.lua's to say, by Redis's clock (this one, and the catalog, may lag it).
  const saleStartsAt = type.sale_starts_at === null ? 0 : Date.parse(type.sale_starts_at);
  if (saleStartsAt - Date.now() > s.config.PREQUEUE_MINUTES * 60_000) {
    throw notOnSale(type.name, type.sale_starts_at!, s.config.PREQUEUE_MINUTES);
  }
  await during("Redis", () => markPrequeued(s, ticketTypeId, saleStartsAt));

  const fresh = s.tokens.issue(ticketTypeId);
  const reply = await during("Redis", () =>
    batcher.join(ticketTypeId, { perUserLimit: type.per_user_limit, saleStartsAt }, { id: fresh.id, userId, quantity, token: fresh.token }),
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
  if (reply.kind !== "existing") s.metrics.joins.inc(ticketTypeId); // a new place, queued or pre-queued
  crashPoint("join:queued");
  if (reply.kind === "joined" && reply.queueLength === 1) {
    // This join found the queue empty (one join of a call at most): tell the processors it
    // has people again.
    await during("Redis", () => s.redis.sadd(s.activeKey, String(ticketTypeId)));
  }

  const queueToken = reply.id === fresh.id ? fresh.token : s.tokens.sign(ticketTypeId, reply.id);
  const base = { queue_token: queueToken, ticket_type_id: ticketTypeId, quantity: reply.quantity };
  const waiting = reply.kind === "prequeued" || (reply.kind === "existing" && reply.state === "waiting_for_sale");
  const held = reply.kind === "existing" && reply.state === "reserved";
  if (reply.kind === "existing" && !verified) {
    throw alreadyQueued(type.name, waiting ? "waiting_for_sale" : held ? "reserved" : "queued");
  }

  if (waiting) {
    const message = reply.kind === "existing"
      ? `You are already waiting for the sale of "${type.name}"; it starts at ${type.sale_starts_at}.`
      : `You are waiting for the sale of "${type.name}"; at ${type.sale_starts_at} everyone waiting gets a place in a random order.`;
    return { ...base, status: "waiting_for_sale", sale_starts_at: type.sale_starts_at, message };
  }
  if (reply.kind === "existing" && held) {
    const expiresAt = new Date(reply.expiresAt ?? 0).toISOString();
    return {
      ...base, position: 0, status: "reserved", expires_at: expiresAt,
      message: `You already hold tickets for "${type.name}"; confirm them before ${expiresAt}.`,
    };
  }
  const position = Math.max(1, reply.place - reply.served);
  const message = reply.kind === "existing"
    ? `You are already in the queue for "${type.name}", number ${position}.`
    : `You are number ${position} in the queue for "${type.name}".`;
  // the place is taken all the same; status answers paused until the operator resumes
  const paused = type.paused ? " The sale is paused for now; you keep your place." : "";
  return { ...base, position, status: "queued", message: message + paused };
}

/** A join too long before the sale's start for its pre-queue. */
function notOnSale(typeName: string, saleStartsAt: string, prequeueMinutes: number): AppError {
  const opens = prequeueMinutes === 0 ? "then" : `${prequeueMinutes} minutes before`;
  return new AppError(
    409,
    "not_on_sale",
    `"${typeName}" goes on sale at ${saleStartsAt}; joining opens ${opens}`,
    {},
    { sale_starts_at: saleStartsAt },
  );
}

/**
 * A rejoin that only named the user: anyone can send a user id, so the live place's token (and
 * its position and deadline) stay with whoever joined first.
 */
function alreadyQueued(typeName: string, status: "queued" | "reserved" | "waiting_for_sale"): AppError {
  const message = {
    reserved: `This user already holds tickets for "${typeName}"; confirm them with the queue token given on joining.`,
    queued: `This user is already in the queue for "${typeName}"; follow it with the queue token given on joining.`,
    waiting_for_sale: `This user is already waiting for the sale of "${typeName}"; follow it with the queue token given on joining.`,
  }[status];
  return new AppError(409, "already_queued", message, {}, { status });
}
