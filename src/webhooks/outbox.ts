// The worker's statements on webhook_deliveries (sql/0012_webhooks.sql): claim what is due,
// record outcomes, delete what retention let go. Every outcome is recorded on the condition
// that the row is still the claim it came from (same attempts, still pending): a sender whose
// lease ran out, and whose delivery another instance took, changes nothing.
import type { Sql } from "../store/db";

/** One claimed delivery: what sending it takes. */
export type Claimed = {
  id: number;
  /** This attempt's number (1: the first); the claim's identity in outcome updates. */
  attempts: number;
  endpointId: number;
  url: string;
  messageId: string;
  eventType: string;
  /** The payload as stored (payload::text): signed and sent as it is. */
  body: string;
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: Date | null;
};

export type Outcome = {
  id: number;
  attempts: number;
  /** The answer's status code (null: none came: a timeout, a refused connection). */
  statusCode: number | null;
  delivered: boolean;
  /** Why it failed, short (null when delivered). */
  error: string | null;
  /** A failure's next attempt in seconds, or null: it was the last (failed). */
  retryInSeconds: number | null;
};

/**
 * Claims up to `limit` due deliveries of enabled endpoints, each endpoint's oldest due first
 * and no more of an endpoint's than it has slots here (`slots`: endpoints with some in flight;
 * any other gets `perEndpoint`), skipping rows another instance is claiming now. Each claimed
 * row's next_attempt_at becomes its lease: no instance takes it again before it ends.
 */
export async function claimDue(
  sql: Sql, limit: number, perEndpoint: number, slots: Map<number, number>, leaseSeconds: number,
): Promise<Claimed[]> {
  const budget = [...slots].map(([endpoint, free]) => ({ endpoint, free }));
  return sql<Claimed[]>`
    WITH budget AS (SELECT * FROM jsonb_to_recordset(${sql.json(budget)}) AS b(endpoint int, free int))
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
    FROM webhook_endpoints e
    WHERE e.id = d.endpoint_id AND d.id = ANY(ARRAY(
      SELECT due.id FROM webhook_endpoints w CROSS JOIN LATERAL (
        SELECT q.id, q.next_attempt_at FROM webhook_deliveries q
        WHERE q.endpoint_id = w.id AND q.status = 'pending' AND q.next_attempt_at <= now()
        ORDER BY q.next_attempt_at
        LIMIT greatest(0, coalesce((SELECT free FROM budget WHERE endpoint = w.id), ${perEndpoint}))
        FOR UPDATE SKIP LOCKED) due
      WHERE w.enabled
      ORDER BY due.next_attempt_at
      LIMIT ${limit}))
    RETURNING d.id, d.attempts, d.endpoint_id AS "endpointId", e.url, d.message_id AS "messageId",
      d.event_type AS "eventType", d.payload::text AS body, e.secret,
      e.previous_secret AS "previousSecret", e.previous_secret_until AS "previousSecretUntil"`;
}

/** What recording a delivered outcome tells the metrics. */
export type Recorded = { eventType: string; outcome: "delivered" | "retry" | "failed"; latencySeconds: number | null };

/** Records outcomes in one statement; returns those that were still their claim's (a stale one is dropped). */
export async function recordOutcomes(sql: Sql, outcomes: Outcome[]): Promise<Recorded[]> {
  if (outcomes.length === 0) return [];
  const rows = outcomes.map((o) => ({
    id: o.id, attempts: o.attempts, code: o.statusCode, error: o.error?.slice(0, 200) ?? null,
    status: o.delivered ? "delivered" : o.retryInSeconds === null ? "failed" : "pending",
    retry: o.retryInSeconds,
  }));
  const recorded = await sql<{ eventType: string; status: string; latency: number | null }[]>`
    UPDATE webhook_deliveries d
    SET status = v.status, last_status_code = v.code, last_error = v.error,
        delivered_at = CASE WHEN v.status = 'delivered' THEN now() END,
        next_attempt_at = CASE WHEN v.status = 'pending' THEN now() + make_interval(secs => v.retry) ELSE d.next_attempt_at END
    FROM jsonb_to_recordset(${sql.json(rows)}) AS v(id bigint, attempts int, code int, error text, status text, retry double precision)
    WHERE d.id = ANY(${sql.array(rows.map((r) => r.id))}::bigint[]) -- by the primary key, never a scan
      AND d.id = v.id AND d.attempts = v.attempts AND d.status = 'pending'
    RETURNING d.event_type AS "eventType", v.status,
      CASE WHEN v.status = 'delivered' THEN extract(epoch FROM now() - d.created_at)::float8 END AS latency`;
  return recorded.map((r) => ({
    eventType: r.eventType,
    outcome: r.status === "delivered" ? "delivered" : r.status === "failed" ? "failed" : "retry",
    latencySeconds: r.latency,
  }));
}

/** Deletes delivered deliveries older than `days`, `batch` rows a statement; returns how many. */
export async function deleteDelivered(sql: Sql, days: number, batch = 5000): Promise<number> {
  // An event committed while its endpoint was being deleted may have written a delivery the
  // delete did not see (no foreign key, on purpose): nobody will ever send it.
  const orphans = await sql`
    DELETE FROM webhook_deliveries d
    WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id)`;
  let total = orphans.count;
  for (;;) {
    const deleted = await sql`
      DELETE FROM webhook_deliveries WHERE id IN (
        SELECT id FROM webhook_deliveries
        WHERE status = 'delivered' AND delivered_at < now() - make_interval(days => ${days})
        ORDER BY delivered_at LIMIT ${batch})`;
    total += deleted.count;
    if (deleted.count < batch) return total;
  }
}

/**
 * Pending deliveries and the oldest one's age in seconds (0 without any), from the due index
 * alone, with those of grant batches not yet expanded (a hold per endpoint each).
 */
export async function pendingFigures(sql: Sql): Promise<{ pending: number; oldestSeconds: number }> {
  const [row] = await sql<{ pending: number; oldest: number }[]>`
    WITH deliveries AS (
      SELECT count(*) AS n, min(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending'
    ), batches AS (
      SELECT coalesce(sum(cardinality(tokens) * cardinality(endpoint_ids)), 0) AS n, min(granted_at) AS oldest FROM webhook_grant_batches
    )
    SELECT (deliveries.n + batches.n)::int AS pending,
           coalesce(extract(epoch FROM now() - least(deliveries.oldest, batches.oldest)), 0)::float8 AS oldest
    FROM deliveries, batches`;
  return { pending: row!.pending, oldestSeconds: row!.oldest };
}

/**
 * Turns up to `batches` grant batches into their deliveries (a hold per endpoint each), in one
 * transaction (sql/0012_webhooks.sql: webhook_expand_grants); how many deliveries it wrote.
 */
export async function expandGrants(sql: Sql, batches: number): Promise<number> {
  const [row] = await sql<{ written: number }[]>`SELECT webhook_expand_grants(${batches}) AS written`;
  return row!.written;
}
