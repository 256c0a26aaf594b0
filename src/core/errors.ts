import { ReplyError } from "ioredis";
import postgres from "postgres";
import { DEPENDENCY_TIMEOUT_MS } from "../domain/timing";
import { within } from "./timeout";
import { leaveReadOnlyServer, READ_ONLY_SQL_TRANSACTION } from "../store/read-only";
import { ERROR_CODES, messageOf, type ErrorCode, type MessageValues } from "./error-codes";

// Domain errors carry their HTTP status and a stable code; one mapper turns any error into
// the JSON body `{ error, message }` (plus any `fields` an error has to say more, such as a status).
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly fields: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

/** The error for `code`: its status and its message (made from `values`) from src/core/error-codes.ts. */
export const fail = <C extends ErrorCode>(code: C, ...values: MessageValues<C>) =>
  new AppError(ERROR_CODES[code].status, code, messageOf(code, ...values));

/** The same, with the headers it comes with and the fields it adds to the body. */
export const failWith = <C extends ErrorCode>(
  extra: { headers?: Record<string, string>; fields?: Record<string, string | number> }, code: C, ...values: MessageValues<C>
) => new AppError(ERROR_CODES[code].status, code, messageOf(code, ...values), extra.headers, extra.fields);

export const RETRY_AFTER_SECONDS = 2;

/** Redis or PostgreSQL cannot be reached: the client should try again shortly. */
export class Unavailable extends AppError {
  constructor(readonly dependency: Dependency, cause?: unknown) {
    super(ERROR_CODES.unavailable.status, "unavailable", messageOf("unavailable", dependency), {
      "retry-after": String(RETRY_AFTER_SECONDS),
    });
    this.cause = cause;
  }
}

export type Dependency = "Redis" | "PostgreSQL";

/**
 * SQLSTATEs of a PostgreSQL that cannot serve now (class 08, connection exceptions, too). A
 * switch of primary gives these: the old primary shut down (57P01, or 57P02 when another
 * backend crashed), a node starting up or in recovery (57P03), a standby that refuses a write
 * (25006: nothing was written; the pools reconnect, src/store/read-only.ts).
 */
const PG_UNAVAILABLE_STATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  READ_ONLY_SQL_TRANSACTION, // read_only_sql_transaction
  "53300", // too_many_connections
  "40001", // serialization_failure: retryable, same advice to the client
  "40P01", // deadlock_detected: retryable
]);
/** postgres.js' own codes for a connection it lost or could not make. */
const PG_CLIENT_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);
/**
 * Error replies by which a Redis says it cannot serve now; a reply's first word is its code.
 * A cluster's: CLUSTERDOWN (slots without a master, mid-failover), TRYAGAIN (a slot half
 * moved), MOVED/ASK (left over when ioredis ran out of redirections).
 */
const REDIS_UNAVAILABLE_REPLIES = new Set(["LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK"]);
/**
 * A script's errors when its slot is no longer (or not yet wholly) on the node that ran it, or
 * the cluster is down there: a failover or a slot migration under way. (A script touching two slots fails otherwise: a bug, not this.)
 */
const SCRIPT_SLOT_AWAY = ["Script attempted to access a non local key in a cluster node",
  "Script attempted to execute a command while the cluster is down",
  "Script attempted to execute a write command while the cluster is down and readonly"];
/**
 * ioredis' errors derive from redis-errors' RedisError, which ioredis exports only as the parent
 * of ReplyError. Other than a reply, one says a command was aborted or ran out of retries.
 */
const RedisError: Function = Object.getPrototypeOf(ReplyError);
/**
 * ioredis 6 raises these as plain Errors, with neither class nor code: offline with no offline
 * queue, closed for good, no answer within commandTimeout. Its exact words are all there is.
 */
const IOREDIS_UNAVAILABLE = new Set([
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Connection is closed.",
  "Command timed out",
  // a cluster client's (src/store/redis.ts)
  "Cluster isn't ready and enableOfflineQueue options is false",
  "None of startup nodes is available",
  "Cluster is disconnected.",
  "Node is disconnected",
]);
/** ioredis' Cluster gives up on a command that kept being redirected or retried with this, then the last error. */
const CLUSTER_GAVE_UP = "Too many Cluster redirections.";
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);

/**
 * Which dependency an error says is down, or null when it is something else. Told by the error
 * type and code of the client that raised it. A raw socket error names no client: it is the
 * outage of `dependency`, the one the failing step talks to, when the caller says; otherwise
 * PostgreSQL's, as postgres.js hands a query its socket's own error while ioredis hands a
 * command one of its own (above) and a socket error only to connect(), which start-up handles.
 */
export function outageOf(err: unknown, dependency?: Dependency): Dependency | null {
  if (err instanceof Unavailable) return err.dependency;
  if (!(err instanceof Error)) return null;
  if (err instanceof postgres.PostgresError) {
    return PG_UNAVAILABLE_STATES.has(err.code) || err.code.startsWith("08") ? "PostgreSQL" : null;
  }
  // also when a script caught it and passed it on in its reply (join-3.lua's per-join errors)
  if (SCRIPT_SLOT_AWAY.some((words) => err.message.includes(words))) return "Redis";
  if (err instanceof ReplyError) return REDIS_UNAVAILABLE_REPLIES.has(err.message.split(" ", 1)[0]!) ? "Redis" : null;
  if (err instanceof RedisError) return "Redis";
  if (err.constructor === Error && (IOREDIS_UNAVAILABLE.has(err.message) || err.message.startsWith(CLUSTER_GAVE_UP))) return "Redis";
  const code = String((err as { code?: unknown }).code ?? "");
  if (PG_CLIENT_CODES.has(code)) return "PostgreSQL";
  if (SOCKET_CODES.has(code)) return dependency ?? "PostgreSQL";
  return null;
}

/**
 * Runs a step against one dependency, turning its failures to connect or answer into a 503.
 * Redis commands time out by themselves (ioredis' commandTimeout); PostgreSQL queries get a
 * deadline here, since postgres.js has none of its own.
 */
export async function during<T>(dependency: Dependency, step: () => Promise<T>): Promise<T> {
  try {
    if (dependency === "Redis") return await step();
    return await within(DEPENDENCY_TIMEOUT_MS, step(), () => {
      throw new Unavailable(dependency);
    });
  } catch (err) {
    if (err instanceof AppError) throw err;
    leaveReadOnlyServer(err);
    if (outageOf(err, dependency)) throw new Unavailable(dependency, err);
    throw err;
  }
}

export type ErrorBody = { error: string; message: string; [field: string]: string | number };

/**
 * The one error mapper: every failure becomes `{ error, message }` with its status. Anything
 * unexpected is a 500 with a generic message; its details go to the log, never to the client.
 */
export function toErrorResponse(
  err: unknown,
  logUnexpected: (err: unknown) => void,
): { status: number; headers: Record<string, string>; body: ErrorBody } {
  if (err instanceof AppError) {
    return { status: err.status, headers: err.headers, body: { error: err.code, message: err.message, ...err.fields } };
  }
  leaveReadOnlyServer(err);
  const down = outageOf(err);
  if (down) return toErrorResponse(new Unavailable(down, err), logUnexpected);
  logUnexpected(err);
  return {
    status: ERROR_CODES.internal.status,
    headers: {},
    body: { error: "internal", message: messageOf("internal") },
  };
}
