-- The grant checks every person of a batch before it takes stock for anyone:
--   * a malformed line (a damaged Redis record) is refused alone, code 'I', instead of failing
--     the batch's statement: a batch that fails is put back at the head of the queue and fails
--     again, forever, and nobody behind it is ever served. The processor screens every line
--     (src/store/formats.ts, screenLines) and blanks a malformed one to "\t\t\t" (no token), which the
--     fast path refuses; should anything else slip through and fail a cast, the processor runs
--     the careful path, which checks every field itself.
--   * per_user_limit counts everything a user has booked of the ticket type across tokens,
--     plus what this person asks for: over it, code 'L'. A token's own booking is not counted
--     against it: a batch that holds an already booked token (a grant recovered while it
--     committed) must reach the careful path's "prior" answer, not be refused. (What the user holds under another
--     token is already refused as a duplicate: one live hold per user, I4.)
-- Refused people take no stock and do not block the people behind them. Both grants run
-- under the ticket type's row lock, so the limit holds under concurrent grants and across
-- instances. The stock is taken by a conditional update, and a batch it cannot cover whole
-- is aborted (it never can: the same statement only granted what the locked stock covers).
--
-- Lines are "<token>\t<user id>\t<quantity>\t<place>", one per person, as claim-3.lua hands
-- them over.

-- Bookings are looked up by user for the limit; this index replaces the one on ticket type.
CREATE INDEX bookings_type_user ON bookings (ticket_type_id, user_id);
DROP INDEX bookings_ticket_type;

-- The careful path's people: each line split once and checked field by field, with why each
-- cannot be granted whatever the stock, if so: 'I' malformed (quantity and place must be whole
-- numbers, the token 48 characters, the user named), 'L' over the user's limit (what they
-- booked of the type, plus this quantity). Each step is materialized: inlined, every use of a
-- field would split and check its line again.
CREATE FUNCTION batch_requests(p_ticket_type integer, p_limit integer, p_lines text)
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
                                         AND b.token <> p.token), 0) > p_limit THEN 'L'
         END
  FROM person p;
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
-- the stock covers, skipping the refused. `refused` lists them as "<position>:<code>,..."
-- (1-based positions in batch order; codes 'I' and 'L', the settle codes of invalid and
-- limit_reached; NULL for nobody), read by parseRefused in src/store/formats.ts.
-- It trusts the processor's screening of the lines. A token that already has a hold, or a
-- user holding this type under another token, raises unique_violation (and a line that is
-- not what it should be, a data exception); the caller then runs grant_holds_carefully.
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
                                                AND b.token <> p.token), 0)
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

-- The careful path: one row per person, in batch order, saying what became of them:
-- granted, prior (the token already has a hold: a retry or a recovery), duplicate (the user
-- holds this type under another token), invalid, limit, or waiting (the stock ran short);
-- 0006 adds closed. parseGrantOutcome in src/store/formats.ts reads them (limit is limit_reached).
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
           ) AS duplicate
    FROM type CROSS JOIN batch_requests(p_ticket_type, type.per_user_limit, p_lines) p
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
