-- The well-formed-line rule (issue #19), named once in SQL: a batch line is
-- "<token>\t<user id>\t<quantity>\t<place>" (lua/includes/enqueue.lua writes it): a token of
-- 48 URL-safe characters, a user id without control characters, a quantity of 1 to 999999
-- and a place of 1 to 18 digits. It is one of a documented pair: TypeScript screens every
-- batch with the same expression (WELL_FORMED_LINE in src/store/formats.ts) before the fast
-- grant, which trusts it; this function is the careful grant's own check.
-- test/formats.test.ts holds both to the same answers on the same lines.
CREATE FUNCTION batch_line_well_formed(p_line text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_line ~ '^[A-Za-z0-9_-]{48}\t[^\x00-\x1f\x7f-\x9f]+\t[1-9][0-9]{0,5}\t[1-9][0-9]{0,17}$'
$$;

-- 0008's batch_requests, its checks field by field replaced by the rule: a line that is not
-- well formed is refused as 'I', and only a well-formed line's fields are cast.
CREATE OR REPLACE FUNCTION batch_requests(p_ticket_type integer, p_limit integer, p_lines text)
RETURNS TABLE (token text, user_id text, quantity integer, place bigint, ord bigint, refusal text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH line AS MATERIALIZED (
    SELECT string_to_array(t.l, E'\t') AS f, batch_line_well_formed(t.l) AS ok, t.ord
    FROM string_to_table(p_lines, E'\n') WITH ORDINALITY AS t(l, ord)
  ), person AS MATERIALIZED (
    SELECT f[1] AS token, f[2] AS user_id,
           CASE WHEN ok THEN f[3]::int END AS quantity,
           CASE WHEN ok THEN f[4]::bigint END AS place,
           ok, line.ord
    FROM line
  )
  SELECT p.token, p.user_id, p.quantity, p.place, p.ord,
         CASE
           WHEN NOT p.ok THEN 'I'
           WHEN p.quantity + coalesce((SELECT sum(b.quantity) FROM bookings b
                                       WHERE b.ticket_type_id = p_ticket_type AND b.user_id = p.user_id
                                         AND b.token <> p.token AND b.status = 'confirmed'), 0) > p_limit THEN 'L'
         END
  FROM person p;
END
$$;
