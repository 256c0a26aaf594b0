// Durations the design depends on, in one place. PostgreSQL's deadline decides a hold; these
// only say how long Redis keeps things around it.

/** A queue place not served within a day is dropped. */
export const PLACE_TTL_SECONDS = 24 * 3600;
/** A record in a final state (confirmed, expired, ...) stays an hour for status answers. */
export const ENDED_TTL_SECONDS = 3600;
/**
 * A type's tally of tickets booked per user (bought:{T}) lives this long after its last
 * booking, each booking renewing it: through the busy days of a sale, gone after. It only lets
 * a join refuse early a user already at the per-user limit; PostgreSQL decides the limit at the
 * grant, so a tally dropped early costs such a user a wait in the queue, never a ticket too many.
 */
export const BOUGHT_TTL_SECONDS = 7 * 24 * 3600;
/** A processor's lease on a ticket type; a dead holder loses it within this time. */
export const LEASE_MS = 5000;
/** A batch in flight this long belongs to a dead or stuck processor and is recovered. */
export const RECOVER_AFTER_MS = 5000;
/**
 * How long a request waits on Redis or PostgreSQL before answering 503. postgres.js keeps a
 * query waiting through reconnects (a pooler or balancer that accepts and drops connections
 * would hold a request forever); confirm and release are idempotent, so a late success is harmless.
 */
export const DEPENDENCY_TIMEOUT_MS = 5000;
/**
 * A worker (processor, cleaner) whose loop has not stepped this long after it said it would is
 * stuck: not ready (GET /readyz). Its steps take milliseconds; a processor's turn a type at most
 * half a second, and it beats between types.
 */
export const WORKER_STALL_MS = 5000;
/** How long GET /readyz waits for Redis' PING and PostgreSQL's SELECT 1. */
export const READY_PROBE_TIMEOUT_MS = 1000;
/** How long GET /metrics waits for a worker's registry before using its last answer. */
export const WORKER_METRICS_TIMEOUT_MS = 1000;
