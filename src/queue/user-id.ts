// The one place a user id is turned into the string that names a user everywhere else (Redis
// keys, the record's line, PostgreSQL). Two inputs must only ever name the same user when the
// client meant the same user, so anything that would be silently changed on the way is refused:
// numbers past 2^53 (JSON parsing rounds them), lone surrogates (UTF-8 encoding turns them into
// U+FFFD) and control characters; bidirectional controls too, which make two ids look alike.
// Strings are NFC-normalized, so "é" typed either way is one user.
// A number and its decimal string name the same user: 7 and "7" (the original's clients send both).

export const MAX_USER_ID_LENGTH = 128;

export const USER_ID_EXPECTED =
  `expected a non-empty string (at most ${MAX_USER_ID_LENGTH} characters, no control characters) ` +
  "or a whole number from 0 to 9007199254740991";

// C0, DEL and C1 controls; and the bidirectional controls (embeddings, overrides, isolates and
// the LRM/RLM/ALM marks), which make two different ids look alike in an export or a log
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** The user's canonical id, or null when `raw` is not an acceptable user id. */
export function normalizeUserId(raw: unknown): string | null {
  if (typeof raw === "number") return Number.isSafeInteger(raw) && raw >= 0 ? String(raw) : null;
  if (typeof raw !== "string" || !raw.isWellFormed() || CONTROL.test(raw)) return null;
  const id = raw.normalize("NFC");
  // counted in code points, after normalization: what a person would call characters
  let length = 0;
  for (const _ of id) if (++length > MAX_USER_ID_LENGTH) return null;
  return length === 0 ? null : id;
}
