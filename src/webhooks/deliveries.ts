// An endpoint's deliveries for the operator: GET /admin/webhooks/:id/deliveries pages them
// newest first (as the audit log pages: `limit` default 1000, at most 10,000; an opaque cursor,
// base64url of "deliveries:<endpoint id>:<last delivery id seen>"), and a delivered or failed
// one can be sent once more (POST /admin/webhooks/deliveries/:id/retry).
import type { Sql } from "../store/db";
import { fail } from "../core/errors";
import { inTransaction, recordChange, type AuditContext } from "../admin/audit";
import type { WebhookDelivery } from "../api/schemas";

export type DeliveryStatus = WebhookDelivery["status"];

export const cursor = {
  encode: (endpointId: number, lastId: number) => Buffer.from(`deliveries:${endpointId}:${lastId}`).toString("base64url"),
  /** The last delivery id a cursor names, or null unless it is exactly one this endpoint's listing made. */
  decode(endpointId: number, text: string): number | null {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
    const match = Buffer.from(text, "base64url").toString("latin1").match(/^deliveries:([1-9][0-9]{0,9}):([1-9][0-9]{0,15})$/);
    if (!match || Number(match[1]) !== endpointId) return null;
    const lastId = Number(match[2]);
    return cursor.encode(endpointId, lastId) === text ? lastId : null;
  },
};

/** A delivery id in a path (bigint in PostgreSQL, kept within what a JS number holds exactly), or null. */
export function deliveryIdOf(text: string): number | null {
  return /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : null;
}

const COLUMNS = `id, message_id, event_type, status, attempts, last_status_code, last_error, next_attempt_at, last_attempt_at,
  delivered_at, created_at, payload`;

const iso = (at: Date | null) => (at ? at.toISOString() : null);
const deliveryOf = (row: any): WebhookDelivery => ({
  id: Number(row.id),
  webhook_id: row.message_id,
  event_type: row.event_type,
  status: row.status,
  attempts: row.attempts,
  last_status_code: row.last_status_code,
  last_error: row.last_error,
  // a pending delivery's time; the others' column keeps their last lease, which says nothing
  next_attempt_at: row.status === "pending" ? iso(row.next_attempt_at) : null,
  last_attempt_at: iso(row.last_attempt_at),
  delivered_at: iso(row.delivered_at),
  created_at: iso(row.created_at)!,
  payload: row.payload,
});

/**
 * One page of an endpoint's deliveries older than id `before` (all when null), newest first,
 * with `status` only when given, and whether more follow; null when the endpoint does not exist.
 */
export async function deliveriesPage(
  sql: Sql, endpointId: number, status: DeliveryStatus | undefined, before: number | null, limit: number,
): Promise<{ deliveries: WebhookDelivery[]; more: boolean } | null> {
  const [endpoint] = await sql`SELECT 1 FROM webhook_endpoints WHERE id = ${endpointId}`;
  if (!endpoint) return null;
  const rows = await sql`
    SELECT ${sql.unsafe(COLUMNS)} FROM webhook_deliveries
    WHERE endpoint_id = ${endpointId}
      ${status === undefined ? sql`` : sql`AND status = ${status}`}
      ${before === null ? sql`` : sql`AND id < ${before}`}
    ORDER BY id DESC
    LIMIT ${limit + 1}`;
  return { deliveries: rows.slice(0, limit).map(deliveryOf), more: rows.length > limit };
}

/**
 * A delivered or failed delivery back to pending, due now: one more attempt, its attempts
 * counting on (should it fail, the worker marks it failed again). A pending one is refused, 409
 * delivery_pending: a worker may hold its lease right now, and a second send could run beside
 * it. One conditional UPDATE decides, so two retries at once make one. Throws 404
 * unknown_delivery.
 */
export async function retryDelivery(sql: Sql, id: number | null, audit: AuditContext): Promise<WebhookDelivery> {
  if (id === null) throw fail("unknown_delivery");
  return inTransaction(sql, async (tx) => {
    const [row] = await tx`
      UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now()
      FROM (SELECT id, status FROM webhook_deliveries WHERE id = ${id} FOR UPDATE) old
      WHERE d.id = old.id AND d.status IN ('delivered', 'failed')
      RETURNING d.*, old.status AS old_status`;
    if (!row) {
      const [found] = await tx`SELECT status FROM webhook_deliveries WHERE id = ${id}`;
      throw fail(found ? "delivery_pending" : "unknown_delivery");
    }
    const delivery = deliveryOf(row);
    await recordChange(tx, audit, "webhook_delivery", { status: row.old_status }, delivery, ["status"]);
    return delivery;
  });
}
