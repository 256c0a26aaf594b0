// When a delivery is tried (Standard Webhooks' schedule): the first attempt at once, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure; after the last attempt it is failed.
// WEBHOOK_RETRY_SCHEDULE replaces it (tests use seconds), as these same numbers.

/** Seconds before each attempt, counted from the failure of the one before (the first: from the event). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000];
export const DEFAULT_RETRY_SCHEDULE_TEXT = DEFAULT_RETRY_SCHEDULE.join(",");
/** More attempts than this is a mistake in the setting, not a schedule. */
export const MOST_ATTEMPTS = 100;

/**
 * "0,5,300" -> [0, 5, 300]; null when it is not a schedule: whole seconds (up to a week each),
 * at least one attempt, at most MOST_ATTEMPTS, the first at once (the event's row is due when written).
 */
export function parseRetrySchedule(text: string): number[] | null {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length < 1 || parts.length > MOST_ATTEMPTS) return null;
  if (!parts.every((part) => /^\d{1,6}$/.test(part))) return null;
  const seconds = parts.map(Number);
  if (seconds[0] !== 0 || seconds.some((s) => s > 7 * 86_400)) return null;
  return seconds;
}

/**
 * After attempt number `attempts` (1 for the first) failed: seconds until the next one, or
 * null when that was the last (the delivery is failed).
 */
export function retryDelaySeconds(schedule: readonly number[], attempts: number): number | null {
  return attempts >= schedule.length ? null : schedule[Math.max(attempts, 1)]!;
}
