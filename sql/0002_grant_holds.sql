-- The processor's hot path as one call, so a batch costs PostgreSQL one round trip.
--
-- grant_holds takes stock for the longest prefix of a batch (in queue order) that the stock
-- covers and writes those holds. p_lines is the batch as Redis hands it over:
-- "<token>\t<user id>\t<quantity>\t<place>" per person, separated by newlines.
--
-- The row lock comes first, in a statement of its own: in READ COMMITTED every statement of
-- a function takes a new snapshot, so the grant statement reads the stock it then updates.
-- (Locking and updating the row inside one statement computes the update from that
-- statement's older snapshot when a refill commits in between: a lost update.)
-- A token that already has a hold, or a user holding this type under another token, raises
-- unique_violation; the caller then runs its careful statement instead.
CREATE FUNCTION grant_holds(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
RETURNS TABLE (held integer, deadline timestamptz, stock_left integer)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM ticket_types WHERE id = p_ticket_type FOR UPDATE;
  RETURN QUERY
  WITH type AS (
    SELECT id, stock FROM ticket_types WHERE id = p_ticket_type
  ), request AS (
    SELECT split_part(line, E'\t', 1) AS token, split_part(line, E'\t', 2) AS user_id,
           split_part(line, E'\t', 3)::int AS quantity, split_part(line, E'\t', 4)::bigint AS place,
           ord, sum(split_part(line, E'\t', 3)::int) OVER (ORDER BY ord) AS needed
    FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS l(line, ord)
  ), granted AS (
    INSERT INTO reservations (token, ticket_type_id, user_id, quantity, expires_at, queue_epoch, queue_place)
    SELECT r.token, p_ticket_type, r.user_id, r.quantity,
           now() + make_interval(secs => p_hold_seconds), p_epoch, r.place
    FROM request r CROSS JOIN type WHERE r.needed <= type.stock
    ORDER BY r.ord
    RETURNING quantity, expires_at
  ), taken AS (
    UPDATE ticket_types t SET stock = t.stock - (SELECT coalesce(sum(quantity), 0) FROM granted)
    FROM type WHERE t.id = type.id
    RETURNING t.stock
  )
  SELECT (SELECT count(*)::int FROM granted),
         (SELECT max(expires_at) FROM granted),
         (SELECT stock FROM taken);
END
$$;
