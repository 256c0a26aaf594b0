// Every change made through the admin API, and the shop's booking cancels, kept and told: a
// row in admin_audit written inside the change's own transaction (the change and its row
// commit together, or neither does), and one info log line once it committed. A refused change
// (404, 409) writes neither. A PATCH that leaves every value as it was is still recorded, with
// no changes: someone tried. Each row names its actor: `admin` (the operator's token), or
// `shop:<fingerprint>` for the shop key that asked (never the key itself).
//
// GET /admin/audit pages through the rows newest first, as the bookings export pages: `limit`
// (default 1000, at most 10,000) and an opaque cursor, base64url of "audit:<last id seen>".
import { Type } from "@sinclair/typebox";
import type { Server } from "bun";
import type postgres from "postgres";
import type { Sql } from "../store/db";
import { during, fail } from "../core/errors";
import type { Logger } from "../core/log";
import { clientOf } from "../rate-limit/client";
import { requestIdOf } from "../http/request-id";
import type { Config } from "../config/config";
import { adminScope } from "./auth";
import { DEFAULT_LIMIT, MAX_LIMIT, pagingFields } from "./bookings";
import type { AuditEntry } from "../api/schemas";

type Tx = postgres.TransactionSql<{}>;
export type TargetType = "event" | "ticket_type" | "booking" | "webhook" | "webhook_delivery";
export type Changes = Record<string, { old: unknown; new: unknown }>;

/** Who asks for a change (never their token), and the change once recorded, to log after the commit. */
export type AuditContext = {
  /** admin, or shop:<fingerprint of its key> */
  actor: string;
  route: string;
  request_id: string;
  client: string;
  recorded?: { id: number; target_type: TargetType; target_id: number; changes: Changes };
};

/** The operator, whose one ADMIN_TOKEN needs no fingerprint. */
export const ADMIN_ACTOR = "admin";

/**
 * A route's audit context: the actor, its method and pattern, the request's id, the client as
 * the rate limiter counts it.
 */
export function auditContext(
  s: { config: Config },
  { request, server, route }: { request: Request; server: Server<unknown> | null; route: string },
  actor = ADMIN_ACTOR,
): AuditContext {
  return {
    actor,
    route: `${request.method} ${route}`,
    request_id: requestIdOf(request),
    client: clientOf(request, server, s.config.TRUST_PROXY),
  };
}

/** Runs `step` in a transaction: a new one on a connection, or the caller's own (the demo's). */
export function inTransaction<T>(db: Sql | Tx, step: (tx: Tx) => Promise<T>): Promise<T> {
  return "savepoint" in db ? step(db) : (db.begin(step) as Promise<T>);
}

/**
 * Writes the change's row in `tx`: the `fields` whose value differs between `before` and
 * `after` (a creation: `before` null, every field set). No context (the demo's seeding): nothing.
 */
export async function recordChange(
  tx: Tx, audit: AuditContext | undefined, targetType: TargetType,
  before: Record<string, unknown> | null, after: { id: number } & Record<string, unknown>, fields: readonly string[],
): Promise<void> {
  if (!audit) return;
  const changes: Changes = {};
  for (const field of fields) {
    const old = before === null ? null : before[field];
    if (before === null || !same(old, after[field])) changes[field] = { old, new: after[field] };
  }
  const [row] = await tx`
    INSERT INTO admin_audit (actor, route, target_type, target_id, changes, request_id, client)
    VALUES (${audit.actor}, ${audit.route}, ${targetType}, ${after.id}, ${tx.json(changes as postgres.JSONValue)}, ${audit.request_id}, ${audit.client})
    RETURNING id`;
  audit.recorded = { id: row!.id, target_type: targetType, target_id: after.id, changes };
}

/** Equal values; lists (a webhook's events) by their items, in order. */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/** The info line of a change that committed; nothing when none was recorded (a refusal). */
export function logChange(log: Logger, audit: AuditContext): void {
  const r = audit.recorded;
  if (!r) return;
  log.info("admin change", {
    actor: audit.actor, route: audit.route, target_type: r.target_type, target_id: r.target_id, changes: r.changes,
    request_id: audit.request_id, client: audit.client, audit_id: r.id,
  });
}

// ---- GET /admin/audit

const AuditQuery = Type.Object(pagingFields, { description: "expected cursor and limit" });

export const cursor = {
  encode: (lastId: number) => Buffer.from(`audit:${lastId}`).toString("base64url"),
  /** The last entry id a cursor names, or null unless it is exactly one this route made. */
  decode(text: string): number | null {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
    const match = Buffer.from(text, "base64url").toString("latin1").match(/^audit:([1-9][0-9]{0,15})$/);
    if (!match) return null;
    const lastId = Number(match[1]);
    return cursor.encode(lastId) === text ? lastId : null;
  },
};

export const adminAuditRoutes = (s: { config: Config; sql: Sql }) =>
  adminScope(s).get(
    "/audit",
    async ({ query }) => {
      const limit = query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit);
      if (limit > MAX_LIMIT) throw fail("invalid_input", `limit: expected a whole number from 1 to ${MAX_LIMIT}`);
      let before: number | null = null;
      if (query.cursor !== undefined) {
        before = cursor.decode(query.cursor);
        if (before === null) throw fail("invalid_cursor", "the audit log");
      }
      const page = await during("PostgreSQL", () => auditPage(s.sql, before, limit));
      return { entries: page.entries, next_cursor: page.more ? cursor.encode(page.entries.at(-1)!.id) : null };
    },
    { query: AuditQuery },
  );

/** One page of entries older than id `before` (all when null), newest first, and whether more follow. */
export async function auditPage(sql: Sql, before: number | null, limit: number): Promise<{ entries: AuditEntry[]; more: boolean }> {
  const rows = await sql`
    SELECT id, at, actor, route, target_type, target_id, changes, request_id, client
    FROM admin_audit
    ${before === null ? sql`` : sql`WHERE id < ${before}`}
    ORDER BY id DESC
    LIMIT ${limit + 1}`;
  const entries = rows.slice(0, limit).map((r) => ({
    id: r.id, at: (r.at as Date).toISOString(), actor: r.actor, route: r.route, target: { type: r.target_type, id: r.target_id },
    changes: r.changes, request_id: r.request_id, client: r.client,
  }));
  return { entries, more: rows.length > limit };
}
