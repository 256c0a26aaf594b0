// The PostgreSQL client and the migrations. Every query is a tagged template.
import postgres from "postgres";
import { databaseName, parseDatabaseUrl, withDatabase } from "../config/database-url";
import { watchForReadOnly } from "./read-only";
import init from "../../sql/0001_init.sql" with { type: "text" };
import grantHolds from "../../sql/0002_grant_holds.sql" with { type: "text" };
import byteOrderTextKeys from "../../sql/0003_byte_order_text_keys.sql" with { type: "text" };
import grantChecks from "../../sql/0004_grant_checks.sql" with { type: "text" };
import saleControls from "../../sql/0005_sale_controls.sql" with { type: "text" };
import grantGates from "../../sql/0006_grant_gates.sql" with { type: "text" };
import adminAudit from "../../sql/0007_admin_audit.sql" with { type: "text" };
import shop from "../../sql/0008_shop.sql" with { type: "text" };
import auditActor from "../../sql/0009_audit_actor.sql" with { type: "text" };
import batchLineRule from "../../sql/0010_batch_line_rule.sql" with { type: "text" };
import heldTickets from "../../sql/0011_held_tickets.sql" with { type: "text" };
import webhooks from "../../sql/0012_webhooks.sql" with { type: "text" };

export type Sql = postgres.Sql<{}>;

/** Append-only, applied in order. Imported as text so the compiled binary carries them. */
export const MIGRATIONS: ReadonlyArray<{ version: string; text: string }> = [
  { version: "0001_init", text: init },
  { version: "0002_grant_holds", text: grantHolds },
  { version: "0003_byte_order_text_keys", text: byteOrderTextKeys },
  { version: "0004_grant_checks", text: grantChecks },
  { version: "0005_sale_controls", text: saleControls },
  { version: "0006_grant_gates", text: grantGates },
  { version: "0007_admin_audit", text: adminAudit },
  { version: "0008_shop", text: shop },
  { version: "0009_audit_actor", text: auditActor },
  { version: "0010_batch_line_rule", text: batchLineRule },
  { version: "0011_held_tickets", text: heldTickets },
  { version: "0012_webhooks", text: webhooks },
];

/**
 * `asyncCommit`: commits do not wait for the WAL to reach the disk (synchronous_commit off), for
 * a thread whose last commits before a PostgreSQL crash may be lost without harm (the webhooks
 * worker: a lost claim is claimed again, a lost outcome sent again, at least once either way).
 */
export function createSql(url: string, options: { max?: number; asyncCommit?: boolean } = {}): Sql {
  return watchForReadOnly(postgres(url, {
    ...followThePrimary(url),
    max: options.max ?? 10,
    ...(options.asyncCommit && { connection: { synchronous_commit: "off" } }),
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: () => {},
    // bigint columns (booking ids, sums) come back as plain numbers, which JSON can carry;
    // ours stay far below 2^53.
    types: {
      bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) },
    },
  })) as unknown as Sql;
}

/** postgres.js' wait before reconnecting grows to 20 s; a switch of primary takes less, and we want back within seconds. */
const RECONNECT_MOST_SECONDS = 1;

/**
 * With several hosts, connect only to one that takes writes (libpq's read-write) unless the URL
 * asks otherwise; and after a lost server, try again within a second.
 */
function followThePrimary(url: string): Pick<postgres.Options<{}>, "backoff" | "target_session_attrs"> {
  const { hosts, first } = parseDatabaseUrl(url);
  return {
    backoff: (retries: number) => Math.min(RECONNECT_MOST_SECONDS, (0.5 + Math.random() / 2) * 3 ** retries / 100),
    ...(hosts.length > 1 && !first.searchParams.has("target_session_attrs") && { target_session_attrs: "read-write" }),
  };
}

/** Applies pending migrations in one transaction under an advisory lock; returns what it applied. */
export async function migrate(sql: Sql): Promise<string[]> {
  return sql.begin(async (sql) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('ticket-queue:migrate'))`;
    await sql`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const done = new Set((await sql`SELECT version FROM schema_migrations`).map((r) => r.version));
    const applied: string[] = [];
    for (const { version, text } of MIGRATIONS) {
      if (done.has(version)) continue;
      await sql.unsafe(text);
      await sql`INSERT INTO schema_migrations (version) VALUES (${version})`;
      applied.push(version);
    }
    return applied;
  });
}

/** Creates the database named in the URL when it is missing (a fresh machine). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  if (!name) return false;
  // every host kept: with target_session_attrs, the one that creates it is the primary
  const sql = postgres(withDatabase(url, "postgres"), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql`SELECT 1 AS found FROM pg_database WHERE datname = ${name}`;
    if (row) return false;
    await sql`CREATE DATABASE ${sql(name)}`;
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "42P04") return false; // created meanwhile
    throw err;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
