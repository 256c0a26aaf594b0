import { DEPENDENCY_TIMEOUT_MS } from "./timing";

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

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const gone = (code: string, message: string) => new AppError(410, code, message);

export const RETRY_AFTER_SECONDS = 2;

/** Redis or PostgreSQL cannot be reached: the client should try again shortly. */
export class Unavailable extends AppError {
  constructor(readonly dependency: "Redis" | "PostgreSQL", cause?: unknown) {
    super(503, "unavailable", `${dependency} is unavailable; try again shortly`, {
      "retry-after": String(RETRY_AFTER_SECONDS),
    });
    this.cause = cause;
  }
}

const PG_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "40001", // serialization_failure: retryable, same advice to the client
  "40P01", // deadlock_detected: retryable
]);
const NET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);
const REDIS_MESSAGES = /Connection is closed|enableOfflineQueue|Reached the max retries|LOADING|READONLY|MASTERDOWN|connect ETIMEDOUT|Command timed out/;

/** Which dependency an error says is down, or null when it is something else. */
export function outageOf(err: unknown): "Redis" | "PostgreSQL" | null {
  if (!(err instanceof Error)) return null;
  if (err instanceof Unavailable) return err.dependency;
  const code = String((err as { code?: unknown }).code ?? "");
  const isPg = "severity" in err || code.startsWith("CONNECT") || /^[0-9A-Z]{5}$/.test(code);
  if (PG_CONNECTION_CODES.has(code) || (isPg && code.startsWith("08"))) return "PostgreSQL";
  if (err.name === "MaxRetriesPerRequestError" || REDIS_MESSAGES.test(err.message)) return "Redis";
  if (NET_CODES.has(code)) {
    // Both clients surface raw socket errors; the port says whose socket it was.
    const port = Number((err as { port?: unknown }).port);
    return port === 5432 || /5432/.test(err.message) ? "PostgreSQL" : "Redis";
  }
  return null;
}

/**
 * Runs a step against one dependency, turning its failures to connect or answer into a 503.
 * Redis commands time out by themselves (ioredis' commandTimeout); PostgreSQL queries get a
 * deadline here, since postgres.js has none of its own.
 */
export async function during<T>(dependency: "Redis" | "PostgreSQL", step: () => Promise<T>): Promise<T> {
  let timer: Timer | undefined;
  try {
    if (dependency === "Redis") return await step();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Unavailable(dependency)), DEPENDENCY_TIMEOUT_MS);
    });
    return await Promise.race([step(), deadline]);
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (outageOf(err)) throw new Unavailable(dependency, err);
    throw err;
  } finally {
    clearTimeout(timer);
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
  const down = outageOf(err);
  if (down) return toErrorResponse(new Unavailable(down, err), logUnexpected);
  logUnexpected(err);
  return {
    status: 500,
    headers: {},
    body: { error: "internal", message: "something went wrong on our side; it has been logged" },
  };
}
