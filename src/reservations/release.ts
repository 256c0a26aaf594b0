// Release: give a hold back (its stock returns at once, exactly once) or leave the queue.
// Every other state answers as src/domain/states.ts says (RELEASE_REFUSALS). A hold the shop extended
// is being paid for: the buyer may not release it (409 payment_in_progress); it still lapses at
// its deadline. Release and the shop's extend are each one conditional UPDATE of the hold's
// row, so when they race one waits for the other's row lock and re-reads the row: either the
// release wins and the extend finds the hold released, or the extend wins and the release
// finds it extended. Never both.
import { crashPoint } from "../core/crash-points";
import { during } from "../core/errors";
import { PAYMENT_IN_PROGRESS, RELEASE_REFUSALS } from "../domain/states";
import type { TokenParts } from "../domain/tokens";
import { finishQuietly, type HoldDeps } from "./finish";
import { findHold } from "../holds/find-hold";
import { refusal, refusalError } from "./without-hold";
import type { Release } from "../api/schemas";

export async function releaseToken(s: HoldDeps, parts: TokenParts, token: string, retried = false): Promise<Release> {
  const released = (message: string): Release => ({
    status: "released", queue_token: token, ticket_type_id: parts.ticketTypeId, message,
  });
  const quantity = await releaseHold(s, token);
  if (quantity !== null) {
    s.metrics.releases.inc(parts.ticketTypeId);
    crashPoint("release:released");
    s.log.info("released", { ticket_type_id: parts.ticketTypeId, quantity, what: "hold" });
    await finishQuietly(s, [{ token, ticketTypeId: parts.ticketTypeId, state: "released" }]);
    return released("Your hold was released; the tickets are back on sale.");
  }
  const hold = await findHold(s.sql, token);
  if (hold?.status === "released") return released("This hold was already released.");
  if (hold?.status === "confirmed") throw refusal(RELEASE_REFUSALS, hold.booking_status === "cancelled" ? "cancelled" : "confirmed");
  if (hold?.status === "held" && !hold.lapsed && hold.extended_seconds > 0) throw refusalError(PAYMENT_IN_PROGRESS);
  // A live hold the update did not see: its grant committed in between. Once more, then it is.
  if (hold?.status === "held" && !hold.lapsed && !retried) return releaseToken(s, parts, token, true);
  if (hold) throw refusal(RELEASE_REFUSALS, "expired"); // expired, or held past its deadline

  const k = s.keys(parts.ticketTypeId);
  const left = await during("Redis", () => s.redis.scripts.leave({ keys: k, id: parts.id }));
  if (left === "released") {
    const quantity = Number(await s.redis.hget(k.record(parts.id), "qty").catch(() => null)) || null;
    s.log.info("released", { ticket_type_id: parts.ticketTypeId, quantity, what: "queue place" });
    return released("You left the queue.");
  }
  // pending (being served this instant) answers in_progress, as confirm does: try again
  throw refusal(RELEASE_REFUSALS, left ?? "lost");
}

/**
 * Marks a held hold released and puts its stock back, in one statement; returns its quantity,
 * or null. A hold past its deadline is the cleaner's to expire (the same condition as
 * confirm): releasing it would tell its owner "released" while confirm and status call it
 * expired. A hold the shop extended is not released (extended_seconds = 0).
 */
async function releaseHold(s: HoldDeps, token: string): Promise<number | null> {
  const [row] = await during("PostgreSQL", () => s.sql<{ quantity: number }[]>`
    WITH released AS (
      UPDATE reservations SET status = 'released', ended_at = now()
      WHERE token = ${token} AND status = 'held' AND expires_at > now() AND extended_seconds = 0
      RETURNING ticket_type_id, quantity
    )
    UPDATE ticket_types t SET stock = t.stock + released.quantity
    FROM released WHERE t.id = released.ticket_type_id
    RETURNING released.quantity`);
  return row?.quantity ?? null;
}
