// How long the shop's Idempotency-Keys are kept: at least the 24 hours promised to shops (a
// retry a day later still gets its answer), twice that to be safe. The cleaner purges older ones.
import type { Sql } from "../store/db";

export const IDEMPOTENCY_KEEP_HOURS = 48;

/** Deletes keys older than IDEMPOTENCY_KEEP_HOURS; returns how many. */
export async function purgeIdempotencyKeys(sql: Sql): Promise<number> {
  const purged = await sql`
    DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEEP_HOURS})`;
  return purged.count;
}
