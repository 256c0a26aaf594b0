-- The grant checks every person of a batch before it takes stock for anyone:
--   * a malformed line (a damaged Redis record: a quantity or place that is not a whole number
--     in range, a missing token or user) is refused alone, code 'I', instead of failing the
--     batch's statement: a batch that fails is put back at the head of the queue and fails
--     again, forever, and nobody behind it is ever served;
--   * per_user_limit counts everything a user has booked of the ticket type across tokens,
--     plus what this person asks for: over it, code 'L'. (What the user holds under another
--     token is already refused as a duplicate: one live hold per user, I4.)
-- Refused people take no stock and do not block the people behind them. Both grants run
-- under the ticket type's row lock, so the limit holds under concurrent grants and across
-- instances. The stock is taken by a conditional update, and a batch it cannot cover whole
-- is aborted (it never can: the same statement only granted what the locked stock covers).
--
-- Lines are "<token>\t<user id>\t<quantity>\t<place>", one per person, as claim-3.lua hands
-- them over (src/processing/claim.ts).

-- Bookings are looked up by user for the limit; this index replaces the one on ticket type.
CREATE INDEX bookings_type_user ON bookings (ticket_type_id, user_id);
DROP INDEX bookings_ticket_type;

-- One person of a batch line, with quantity and place NULL unless they are whole numbers.
CREATE FUNCTION batch_people(p_lines text)
RETURNS TABLE (token text, user_id text, quantity integer, place bigint, ord bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT split_part(l, E'\t', 1), split_part(l, E'\t', 2),
         CASE WHEN split_part(l, E'\t', 3) ~ '^[1-9][0-9]{0,5}$' THEN split_part(l, E'\t', 3)::int END,
         CASE WHEN split_part(l, E'\t', 4) ~ '^[1-9][0-9]{0,17}$' THEN split_part(l, E'\t', 4)::bigint END,
         ord
  FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS t(l, ord)
$$;

-- Why a person cannot be granted whatever the stock: 'I' malformed, 'L' over the user's limit.
CREATE FUNCTION refusal_of(p_ticket_type integer, p_limit integer, p_token text, p_user text, p_quantity integer, p_place bigint)
RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN p_quantity IS NULL OR p_place IS NULL OR length(p_token) <> 48 OR p_user = '' THEN 'I'
    WHEN p_quantity + coalesce((SELECT sum(b.quantity) FROM bookings b
                                WHERE b.ticket_type_id = p_ticket_type AND b.user_id = p_user), 0) > p_limit THEN 'L'
  END
$$;

-- The conditional update of the stock found no row: the batch must not commit. (It cannot
-- happen while the row lock is held, since only what the locked stock covers is granted.)
CREATE FUNCTION stock_short(p_ticket_type integer) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the stock of ticket type % does not cover its batch', p_ticket_type;
END
$$;

-- The fast path (src/processing/grant.ts): the longest run of the batch, in queue order, that
-- the stock covers, skipping the refused. `refused` lists them as "<position>:<code>,...".
-- A token that already has a hold, or a user holding this type under another token, raises
-- unique_violation; the caller then runs grant_holds_carefully instead.
DROP FUNCTION grant_holds(integer, bigint, text, integer);
CREATE FUNCTION grant_holds(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (held integer, deadline timestamptz, stock_left integer, refused text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  -- The row lock comes first, in a statement of its own: in READ COMMITTED every statement
  -- takes a new snapshot, so the grant below reads the stock it then updates.
  PERFORM 1 FROM ticket_types WHERE id = p_ticket_type FOR UPDATE;
  RETURN QUERY
  WITH type AS (
    SELECT id, stock, per_user_limit FROM ticket_types WHERE id = p_ticket_type
  ), checked AS (
    SELECT p.*, refusal_of(p_ticket_type, type.per_user_limit, p.token, p.user_id, p.quantity, p.place) AS refusal
    FROM batch_people(p_lines) p CROSS JOIN type
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

-- The careful path: one row per person, in batch order, saying what became of them:
-- granted, prior (the token already has a hold: a retry or a recovery), duplicate (the user
-- holds this type under another token), invalid, limit, or waiting (the stock ran short).
CREATE FUNCTION grant_holds_carefully(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (outcome text, expires_at timestamptz, prior_status text, stock_left integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM ticket_types WHERE id = p_ticket_type FOR UPDATE;
  RETURN QUERY
  WITH type AS (
    SELECT id, stock, per_user_limit FROM ticket_types WHERE id = p_ticket_type
  ), known AS (
    SELECT p.*, x.status AS prior_status, x.expires_at AS prior_expires_at,
           EXISTS (
             SELECT 1 FROM reservations h
             WHERE h.ticket_type_id = p_ticket_type AND h.user_id = p.user_id
               AND h.status = 'held' AND h.expires_at > now() AND h.token <> p.token
           ) AS duplicate,
           refusal_of(p_ticket_type, type.per_user_limit, p.token, p.user_id, p.quantity, p.place) AS refusal
    FROM batch_people(p_lines) p CROSS JOIN type
    LEFT JOIN reservations x ON x.token = p.token
  ), fresh AS (
    SELECT k.*, sum(k.quantity) OVER (ORDER BY k.ord) AS needed
    FROM known k WHERE k.prior_status IS NULL AND NOT k.duplicate AND k.refusal IS NULL
  ), granted AS (
    INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at, queue_epoch, queue_place)
    SELECT f.token, p_ticket_type, f.user_id, f.quantity,
           now() + make_interval(secs => p_hold_seconds), p_epoch, f.place
    FROM fresh f CROSS JOIN type WHERE f.needed <= type.stock
    ORDER BY f.ord
    -- a user twice in one batch: the one-live-hold index keeps the first, stock counts only inserts
    ON CONFLICT DO NOTHING
    RETURNING token, quantity, expires_at
  ), total AS (
    SELECT coalesce(sum(quantity), 0)::int AS n FROM granted
  ), taken AS (
    UPDATE ticket_types t SET stock = t.stock - total.n
    FROM total WHERE t.id = p_ticket_type AND t.stock >= total.n
    RETURNING t.stock
  )
  SELECT CASE WHEN g.token IS NOT NULL THEN 'granted'
              WHEN k.prior_status IS NOT NULL THEN 'prior'
              WHEN k.refusal = 'I' THEN 'invalid'
              WHEN k.duplicate THEN 'duplicate'
              WHEN k.refusal = 'L' THEN 'limit'
              ELSE 'waiting' END,
         coalesce(g.expires_at, k.prior_expires_at),
         k.prior_status,
         coalesce((SELECT stock FROM taken), (SELECT stock_short(p_ticket_type) FROM type))
  FROM known k LEFT JOIN granted g ON g.token = k.token
  ORDER BY k.ord;
END
$$;
