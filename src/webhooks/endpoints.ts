// Webhook endpoints in PostgreSQL: register, list, change, delete, rotate the secret. Each change
// is audited in its own transaction (src/admin/audit.ts), never with a secret. An endpoint's
// deliveries have no foreign key to it (sql/0012 says why): deleting it deletes them in the
// same statement.
import type { Sql } from "../store/db";
import { fail } from "../core/errors";
import { inTransaction, recordChange, type AuditContext } from "../admin/audit";
import type { Webhook, WebhookCreated, WebhookDeleted, WebhookRotated } from "../api/schemas";
import type { WebhookInput, WebhookPatch } from "./admin-input";

/** How long the secret a rotation replaced still signs alongside the new one. */
export const PREVIOUS_SECRET_HOURS = 24;

/** whsec_ and base64 of 24 random bytes (Standard Webhooks' form). */
export function newSecret(): string {
  return "whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64");
}

export const unknownWebhook = () => fail("unknown_webhook");

/** What the audit log keeps of an endpoint: no secret. */
const AUDITED = ["url", "events", "description", "enabled"] as const;

const COLUMNS = `id, url, events, description, enabled, created_at, updated_at,
  CASE WHEN previous_secret_until > now() THEN previous_secret_until END AS previous_secret_until`;

const webhookOf = (row: any): Webhook => ({
  id: row.id,
  url: row.url,
  events: row.events,
  description: row.description,
  enabled: row.enabled,
  previous_secret_expires_at: row.previous_secret_until ? (row.previous_secret_until as Date).toISOString() : null,
  created_at: (row.created_at as Date).toISOString(),
  updated_at: (row.updated_at as Date).toISOString(),
});

export async function createWebhook(sql: Sql, input: WebhookInput, audit: AuditContext): Promise<WebhookCreated> {
  const secret = newSecret();
  return inTransaction(sql, async (tx) => {
    const [row] = await tx`
      INSERT INTO webhook_endpoints (url, events, description, secret)
      VALUES (${input.url}, ${input.events}::text[], ${input.description ?? ""}, ${secret})
      RETURNING ${tx.unsafe(COLUMNS)}`;
    const { previous_secret_expires_at: _, updated_at: __, ...created } = webhookOf(row);
    await recordChange(tx, audit, "webhook", null, created, AUDITED);
    return { ...created, secret };
  });
}

export async function listWebhooks(sql: Sql): Promise<Webhook[]> {
  return (await sql`SELECT ${sql.unsafe(COLUMNS)} FROM webhook_endpoints ORDER BY id`).map(webhookOf);
}

/** Null when none has this id. */
export async function findWebhook(sql: Sql, id: number): Promise<Webhook | null> {
  const [row] = await sql`SELECT ${sql.unsafe(COLUMNS)} FROM webhook_endpoints WHERE id = ${id}`;
  return row ? webhookOf(row) : null;
}

/** Changes the fields given; throws 404 unknown_webhook. */
export async function updateWebhook(sql: Sql, id: number, patch: WebhookPatch, audit: AuditContext): Promise<Webhook> {
  const has = (k: keyof WebhookPatch) => patch[k] !== undefined;
  return inTransaction(sql, async (tx) => {
    // locked first, so the audit's old values are the ones this change replaces
    const [locked] = await tx`SELECT ${tx.unsafe(COLUMNS)} FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`;
    if (!locked) throw unknownWebhook();
    const [row] = await tx`
      UPDATE webhook_endpoints SET
        url = CASE WHEN ${has("url")} THEN ${patch.url ?? null}::text ELSE url END,
        events = CASE WHEN ${has("events")} THEN ${patch.events ?? null}::text[] ELSE events END,
        description = CASE WHEN ${has("description")} THEN ${patch.description ?? null}::text ELSE description END,
        enabled = CASE WHEN ${has("enabled")} THEN ${patch.enabled ?? null}::boolean ELSE enabled END,
        updated_at = now()
      WHERE id = ${id}
      RETURNING ${tx.unsafe(COLUMNS)}`;
    const changed = webhookOf(row);
    await recordChange(tx, audit, "webhook", webhookOf(locked), changed, Object.keys(patch));
    return changed;
  });
}

/**
 * Deletes the endpoint and its deliveries in one statement; the audit row says what it was and
 * how many deliveries went with it. Throws 404 unknown_webhook.
 */
export async function deleteWebhook(sql: Sql, id: number, audit: AuditContext): Promise<WebhookDeleted> {
  return inTransaction(sql, async (tx) => {
    const [row] = await tx`
      WITH endpoint AS (DELETE FROM webhook_endpoints WHERE id = ${id} RETURNING ${tx.unsafe(COLUMNS)}),
           deliveries AS (DELETE FROM webhook_deliveries WHERE endpoint_id IN (SELECT id FROM endpoint) RETURNING 1)
      SELECT endpoint.*, (SELECT count(*)::int FROM deliveries) AS deliveries FROM endpoint`;
    if (!row) throw unknownWebhook();
    const before = { ...webhookOf(row), deliveries: row.deliveries };
    const gone = { id, url: null, events: null, description: null, enabled: null, deliveries: 0 };
    await recordChange(tx, audit, "webhook", before, gone, [...AUDITED, "deliveries"]);
    return { id, deleted: true as const, deliveries_deleted: row.deliveries };
  });
}

/**
 * A new secret; the one it replaces signs alongside for PREVIOUS_SECRET_HOURS (one rotated
 * before that is dropped: two secrets at most). Throws 404 unknown_webhook.
 */
export async function rotateSecret(sql: Sql, id: number, audit: AuditContext): Promise<WebhookRotated> {
  const secret = newSecret();
  return inTransaction(sql, async (tx) => {
    const [locked] = await tx`SELECT ${tx.unsafe(COLUMNS)} FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`;
    if (!locked) throw unknownWebhook();
    const [row] = await tx`
      UPDATE webhook_endpoints SET
        previous_secret = secret,
        previous_secret_until = now() + make_interval(hours => ${PREVIOUS_SECRET_HOURS}),
        secret = ${secret},
        updated_at = now()
      WHERE id = ${id}
      RETURNING ${tx.unsafe(COLUMNS)}`;
    const rotated = webhookOf(row);
    // the audit says that the secret changed and until when the old one signs; never a secret
    await recordChange(tx, audit, "webhook", webhookOf(locked), rotated, ["previous_secret_expires_at"]);
    return { id, secret, previous_secret_expires_at: rotated.previous_secret_expires_at! };
  });
}
