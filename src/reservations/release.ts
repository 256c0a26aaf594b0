// Release: give a hold back (its stock returns at once, exactly once) or leave the queue.
import { crashPoint } from "../crash-points";
import { conflict, during, gone } from "../errors";
import type { Services } from "../services";
import { ENDED_TTL_SECONDS } from "../timing";
import type { TokenParts } from "../tokens";
import { finishQuietly } from "./finish";
import { findHold } from "./holds";
import { refuseWithoutHold } from "./without-hold";

export type Release = { status: "released"; queue_token: string; ticket_type_id: number; message: string };

/** A token being served right now settles within milliseconds; wait this long for it. */
const PENDING_WAIT_MS = 2000;

export async function releaseToken(s: Services, parts: TokenParts, token: string): Promise<Release> {
  const released = (message: string): Release => ({
    status: "released", queue_token: token, ticket_type_id: parts.ticketTypeId, message,
  });
  const until = Date.now() + PENDING_WAIT_MS;
  for (;;) {
    const quantity = await releaseHold(s, token);
    if (quantity !== null) {
      crashPoint("release:released");
      s.log.info("released", { ticket_type_id: parts.ticketTypeId, quantity, what: "hold" });
      await finishQuietly(s, [{ token, ticketTypeId: parts.ticketTypeId, state: "released" }]);
      return released("Your hold was released; the tickets are back on sale.");
    }
    const hold = await findHold(s.sql, token);
    if (hold?.status === "released") return released("This hold was already released.");
    if (hold?.status === "confirmed") throw conflict("already_confirmed", "a confirmed booking cannot be released here");
    if (hold) throw gone("hold_expired", "this hold already expired; its tickets are back on sale");

    const k = s.keys(parts.ticketTypeId);
    const state = (await during("Redis", () =>
      s.redis.tqLeave(k.record(parts.id), k.userPrefix, ENDED_TTL_SECONDS, parts.id, k.mappingPrefix),
    )) as string;
    if (state === "released") {
      const quantity = Number(await s.redis.hget(k.record(parts.id), "qty").catch(() => null)) || null;
      s.log.info("released", { ticket_type_id: parts.ticketTypeId, quantity, what: "queue place" });
      return released("You left the queue.");
    }
    if (state !== "pending" || Date.now() > until) return refuseWithoutHold(state, "release");
    await Bun.sleep(50); // being served: it will be a hold or a queue place again in a moment
  }
}

/**
 * Marks a held hold released and puts its stock back, in one statement; returns its quantity,
 * or null. A hold past its deadline is the cleaner's to expire (the same condition as
 * confirm): releasing it would tell its owner "released" while confirm and status call it expired.
 */
async function releaseHold(s: Services, token: string): Promise<number | null> {
  const [row] = await during("PostgreSQL", () => s.sql<{ quantity: number }[]>`
    WITH released AS (
      UPDATE reservations SET status = 'released', ended_at = now()
      WHERE token = ${token} AND status = 'held' AND expires_at > now()
      RETURNING ticket_type_id, quantity
    )
    UPDATE ticket_types t SET stock = t.stock + released.quantity
    FROM released WHERE t.id = released.ticket_type_id
    RETURNING released.quantity`);
  return row?.quantity ?? null;
}
