-- Paid checkout (issue #20): prices in a currency, public booking references, a hold length
-- per ticket type, holds a shop may extend while the payment runs, bookings a shop confirms
-- (safe to retry: idempotency keys) and cancels.

-- ISO 4217 code per event; the app passes CURRENCY (config) when an event is created without one.
ALTER TABLE events ADD COLUMN currency text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$');

-- How long a hold of this type lasts (null: RESERVATION_TTL_SECONDS, the processor's default).
ALTER TABLE ticket_types ADD COLUMN hold_seconds integer CHECK (hold_seconds BETWEEN 1 AND 86400);

-- Seconds the shop moved the deadline on (POST /shop/holds/:token/extend), HOLD_EXTEND_MAX_SECONDS at most.
ALTER TABLE reservations ADD COLUMN extended_seconds integer NOT NULL DEFAULT 0 CHECK (extended_seconds >= 0);

-- A booking's public reference: 10 characters of Crockford base32 (50 bits) from
-- gen_random_uuid(), which reads the operating system's strong random source. The version
-- and variant bytes of the UUID (7th and 9th) are skipped: their bits are fixed.
CREATE FUNCTION new_booking_ref() RETURNS text
LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', get_byte(u.b, i) % 32 + 1, 1), '' ORDER BY i)
  FROM (SELECT uuid_send(gen_random_uuid()) AS b) u, unnest(ARRAY[0, 1, 2, 3, 4, 5, 9, 10, 11, 12]) AS i
$$;

-- status: confirmed, or cancelled (a refund, a chargeback, a mistake: its tickets went back to
-- stock). The booking's reservation stays 'confirmed': the hold did end in a booking, and I3
-- (bookings are exactly the confirmed holds) stays a plain join. I1 and I2 count only
-- bookings whose status is confirmed (src/store/invariants.ts).
ALTER TABLE bookings
  ADD COLUMN booking_ref   text NOT NULL DEFAULT new_booking_ref() UNIQUE,
  ADD COLUMN order_ref     text CHECK (length(order_ref) BETWEEN 1 AND 128),
  ADD COLUMN amount        numeric(14, 2),
  ADD COLUMN currency      text CHECK (currency ~ '^[A-Z]{3}$'),
  ADD COLUMN status        text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
  ADD COLUMN cancelled_at  timestamptz,
  ADD COLUMN cancel_reason text;
-- Bookings made before this keep no amount (the price then is not known: it may have changed
-- since); their currency is their event's.
UPDATE bookings b SET currency = e.currency
FROM ticket_types t JOIN events e ON e.id = t.event_id
WHERE t.id = b.ticket_type_id;

-- The shop's confirm is safe to retry: the answer to a key is written in the booking's own
-- transaction, so a booking never exists without the answer that told of it. Concurrent
-- requests with one key serialize on pg_advisory_xact_lock(hashtext(key)) (src/shop/confirm.ts).
CREATE TABLE idempotency_keys (
  key             text PRIMARY KEY,
  request_hash    text NOT NULL,
  response_status integer NOT NULL,
  response_body   jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- The cleaner deletes keys past IDEMPOTENCY_KEEP_HOURS (src/shop/idempotency.ts) by age.
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- A cancelled booking gives its tickets back to the person's per-user limit: both grants
-- count only confirmed bookings. 0004's functions again, with that one condition added.
CREATE OR REPLACE FUNCTION batch_requests(p_ticket_type integer, p_limit integer, p_lines text)
RETURNS TABLE (token text, user_id text, quantity integer, place bigint, ord bigint, refusal text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH line AS MATERIALIZED (
    SELECT string_to_array(t.l, E'\t') AS f, t.ord
    FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS t(l, ord)
  ), person AS MATERIALIZED (
    SELECT f[1] AS token, f[2] AS user_id,
           CASE WHEN f[3] ~ '^[1-9][0-9]{0,5}$' THEN f[3]::int END AS quantity,
           CASE WHEN f[4] ~ '^[1-9][0-9]{0,17}$' THEN f[4]::bigint END AS place,
           line.ord
    FROM line
  )
  SELECT p.token, p.user_id, p.quantity, p.place, p.ord,
         CASE
           WHEN p.quantity IS NULL OR p.place IS NULL OR coalesce(length(p.token), 0) <> 48
                OR coalesce(p.user_id, '') = '' THEN 'I'
           WHEN p.quantity + coalesce((SELECT sum(b.quantity) FROM bookings b
                                       WHERE b.ticket_type_id = p_ticket_type AND b.user_id = p.user_id
                                         AND b.token <> p.token AND b.status = 'confirmed'), 0) > p_limit THEN 'L'
         END
  FROM person p;
END
$$;

CREATE OR REPLACE FUNCTION grant_holds_open(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (held integer, deadline timestamptz, stock_left integer, refused text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM ticket_types WHERE id = p_ticket_type FOR UPDATE;
  RETURN QUERY
  WITH type AS (
    SELECT id, stock, per_user_limit FROM ticket_types WHERE id = p_ticket_type
  ), person AS (
    SELECT split_part(l, E'\t', 1) AS token, split_part(l, E'\t', 2) AS user_id,
           split_part(l, E'\t', 3) AS quantity, split_part(l, E'\t', 4) AS place, ord
    FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS t(l, ord)
  ), checked AS MATERIALIZED (
    SELECT p.token, p.user_id, p.ord,
           CASE WHEN p.token <> '' THEN p.quantity::int END AS quantity,
           CASE WHEN p.token <> '' THEN p.place::bigint END AS place,
           CASE
             WHEN p.token = '' THEN 'I'
             WHEN p.quantity::int + coalesce((SELECT sum(b.quantity) FROM bookings b
                                              WHERE b.ticket_type_id = p_ticket_type AND b.user_id = p.user_id
                                                AND b.token <> p.token AND b.status = 'confirmed'), 0)
                  > type.per_user_limit THEN 'L'
           END AS refusal
    FROM person p CROSS JOIN type
  ), request AS (
    SELECT c.*, sum(c.quantity) OVER (ORDER BY c.ord) AS needed FROM checked c WHERE c.refusal IS NULL
  ), granted AS (
    INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at, queue_epoch, queue_place)
    SELECT r.token, p_ticket_type, r.user_id, r.quantity,
           now() + make_interval(secs => p_hold_seconds), p_epoch, r.place
    FROM request r CROSS JOIN type WHERE r.needed <= type.stock
    ORDER BY r.ord
    RETURNING quantity, expires_at
  ), total AS (
    SELECT coalesce(sum(quantity), 0)::int AS n FROM granted
  ), taken AS (
    UPDATE ticket_types t SET stock = t.stock - total.n
    FROM total WHERE t.id = p_ticket_type AND t.stock >= total.n
    RETURNING t.stock
  )
  SELECT (SELECT count(*)::int FROM granted),
         (SELECT max(expires_at) FROM granted),
         coalesce((SELECT stock FROM taken), (SELECT stock_short(p_ticket_type) FROM type)),
         (SELECT string_agg(ord || ':' || refusal, ',' ORDER BY ord) FROM checked WHERE refusal IS NOT NULL);
END
$$;

-- The hold length is the type's, read where the hold is made, with the sale's gate (0006) in
-- the one statement that takes the row lock: a PATCH either committed before this grant or
-- waits for it, so no cache can be stale. 0006's wrappers, as they were, with that reading.
DROP FUNCTION lock_sale_gate(integer);
CREATE FUNCTION lock_sale_gate(p_ticket_type integer, OUT stock integer, OUT closed text, OUT hold_seconds integer)
LANGUAGE sql AS $$
  SELECT t.stock,
         CASE WHEN t.paused THEN 'paused'
              WHEN t.sale_starts_at > clock_timestamp() THEN 'not_on_sale' END,
         t.hold_seconds
  FROM ticket_types t WHERE t.id = p_ticket_type
  FOR UPDATE
$$;

CREATE OR REPLACE FUNCTION grant_holds(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (held integer, deadline timestamptz, stock_left integer, refused text, closed text)
LANGUAGE plpgsql AS $$
DECLARE
  gate record;
BEGIN
  SELECT * INTO gate FROM lock_sale_gate(p_ticket_type);
  IF gate.closed IS NOT NULL THEN
    RETURN QUERY SELECT 0, NULL::timestamptz, gate.stock, NULL::text, gate.closed;
    RETURN;
  END IF;
  RETURN QUERY SELECT g.held, g.deadline, g.stock_left, g.refused, NULL::text
    FROM grant_holds_open(p_ticket_type, p_epoch, p_lines, coalesce(gate.hold_seconds, p_hold_seconds)) g;
END
$$;

CREATE OR REPLACE FUNCTION grant_holds_carefully(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (outcome text, expires_at timestamptz, prior_status text, stock_left integer, closed text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  gate record;
BEGIN
  SELECT * INTO gate FROM lock_sale_gate(p_ticket_type);
  IF gate.closed IS NOT NULL THEN
    RETURN QUERY
      SELECT CASE WHEN x.status IS NULL THEN 'closed' ELSE 'prior' END, x.expires_at, x.status, gate.stock, gate.closed
      FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS t(l, ord)
      LEFT JOIN reservations x ON x.token = split_part(t.l, E'\t', 1)
      ORDER BY t.ord;
    RETURN;
  END IF;
  RETURN QUERY SELECT g.outcome, g.expires_at, g.prior_status, g.stock_left, NULL::text
    FROM grant_holds_carefully_open(p_ticket_type, p_epoch, p_lines, coalesce(gate.hold_seconds, p_hold_seconds)) g;
END
$$;
