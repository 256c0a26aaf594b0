// Joining the queue: one atomic Redis step (batched with the joins arriving alongside), after
// the ticket type checks that need no round trip.
import { crashPoint } from "../core/crash-points";
import { during, fail, failWith } from "../core/errors";
import type { Config } from "../config/config";
import type { RedisClient } from "../store/redis";
import type { Tokens } from "../domain/tokens";
import type { Catalog } from "../events/catalog";
import type { Metrics } from "../metrics/metrics";
import type { JoinBatcher } from "./join-batcher";
import { markPrequeued } from "../sale-start/prequeued";
import type { JoinAnswer } from "../api/schemas";

/** `verified`: a verified identity (JOIN_AUTH=jwt) named the user, so a rejoin may see their token. */
export type JoinInput = { userId: string; verified: boolean; ticketTypeId: number; quantity: number };

/** What a join uses (the batcher brings the script call). */
export type JoinDeps = { config: Config; redis: RedisClient; activeKey: string; tokens: Tokens; catalog: Catalog; metrics: Metrics };

export async function joinQueue(s: JoinDeps, batcher: JoinBatcher, input: JoinInput): Promise<JoinAnswer> {
  const { userId, verified, ticketTypeId, quantity } = input;
  const type = await s.catalog.ticketType(ticketTypeId);
  if (!type) throw fail("unknown_ticket_type");
  if (quantity > type.per_user_limit) throw fail("quantity_over_limit", type.per_user_limit, type.name);
  if (type.status === "sold_out") throw fail("sold_out", type.name);
  // it could never be served: refuse it now rather than tell it "sold out" at its turn
  if (quantity > type.capacity) throw fail("quantity_over_capacity", type.capacity, type.name);

  // Only the window before the sale is refused here; whether the sale has started is
  // join-3.lua's to say, by Redis's clock (this one, and the catalog, may lag it).
  const saleStartsAt = type.sale_starts_at === null ? 0 : Date.parse(type.sale_starts_at);
  if (saleStartsAt - Date.now() > s.config.PREQUEUE_MINUTES * 60_000) {
    const fields = { sale_starts_at: type.sale_starts_at! };
    throw failWith({ fields }, "not_on_sale", type.name, type.sale_starts_at!, s.config.PREQUEUE_MINUTES);
  }
  await during("Redis", () => markPrequeued(s, ticketTypeId, saleStartsAt));

  const fresh = s.tokens.issue(ticketTypeId);
  const reply = await during("Redis", () =>
    batcher.join(ticketTypeId, { perUserLimit: type.per_user_limit, saleStartsAt }, { id: fresh.id, userId, quantity, token: fresh.token }),
  );
  if (reply.kind === "limit") {
    const remaining = Math.max(0, type.per_user_limit - reply.booked);
    throw failWith({ fields: { remaining } }, "limit_reached", type.name, type.per_user_limit, reply.booked);
  }
  if (reply.kind !== "existing") s.metrics.joins.inc(ticketTypeId); // a new place, queued or pre-queued
  crashPoint("join:queued");
  if (reply.kind === "joined" && reply.foundEmpty) {
    // This join found the queue empty (one join of a call at most): tell the processors it
    // has people again.
    await during("Redis", () => s.redis.sadd(s.activeKey, String(ticketTypeId)));
  }

  const queueToken = reply.id === fresh.id ? fresh.token : s.tokens.sign(ticketTypeId, reply.id);
  const base = { queue_token: queueToken, ticket_type_id: ticketTypeId, quantity: reply.quantity };
  const waiting = reply.kind === "prequeued" || (reply.kind === "existing" && reply.state === "waiting_for_sale");
  const held = reply.kind === "existing" && reply.state === "reserved";
  if (reply.kind === "existing" && !verified) {
    // anyone can send a user id: the live place's token (and its position and deadline) stay with whoever joined first
    const status = waiting ? "waiting_for_sale" : held ? "reserved" : "queued";
    throw failWith({ fields: { status } }, "already_queued", type.name, status);
  }

  if (waiting) {
    const message = reply.kind === "existing"
      ? `You are already waiting for the sale of "${type.name}"; it starts at ${type.sale_starts_at}.`
      : `You are waiting for the sale of "${type.name}"; at ${type.sale_starts_at} everyone waiting gets a place in a random order.`;
    // waiting: the type has a sale start (join-3.lua pre-queues only before one)
    return { ...base, status: "waiting_for_sale", sale_starts_at: type.sale_starts_at!, message };
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
