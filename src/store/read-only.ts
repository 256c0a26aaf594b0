// A write refused as read-only (SQLSTATE 25006) means a connection reached a standby: a node
// that was the primary until a switch, or one taken for the primary. postgres.js checks a
// server only when it connects (target_session_attrs), so such a connection stays; here every
// pool of this thread (a Worker has its own) closes its connections, each once its statement
// or transaction is done, and opens new ones on the next query, which go to the primary.
import type postgres from "postgres";

export const READ_ONLY_SQL_TRANSACTION = "25006";

const pools = new Set<postgres.Sql<{}>>();

/** Watches `sql` until it is ended. */
export function watchForReadOnly<S extends postgres.Sql<{}>>(sql: S): S {
  pools.add(sql);
  const end = sql.end.bind(sql);
  sql.end = (options) => (pools.delete(sql), end(options));
  return sql;
}

/** Reconnects this thread's pools when `err` says a server takes no writes; true when it did. */
export function leaveReadOnlyServer(err: unknown): boolean {
  if ((err as { code?: unknown } | null)?.code !== READ_ONLY_SQL_TRANSACTION) return false;
  // close(): postgres.js' graceful end of each connection that leaves the pool usable (not in its types)
  for (const sql of pools) (sql as unknown as { close(): Promise<void> }).close().catch(() => {});
  return true;
}
