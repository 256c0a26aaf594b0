-- The operator's word holds at the grant (issue #18): a pause, or a sale start still ahead, is
-- decided where the stock is taken, under the ticket type's row lock, by the grant itself. No
-- cache can be stale there: a PATCH takes the same row lock, so a grant either committed
-- before the PATCH did (before its answer) or reads what the PATCH wrote.
--
-- The grants of 0004 are kept whole under new names and wrapped: the wrapper takes the row
-- lock and reads the gate in one statement (in READ COMMITTED a SELECT ... FOR UPDATE that
-- waited for the lock returns the row as its holder committed it), then either grants nothing
-- and says why (`closed`: 'paused' or 'not_on_sale'), or calls the grant (which takes the lock
-- it already holds again, at no cost). The start is compared with clock_timestamp(), the
-- moment of deciding, not with now(), the moment the transaction began (before any lock wait).
ALTER FUNCTION grant_holds(integer, bigint, text, integer) RENAME TO grant_holds_open;
ALTER FUNCTION grant_holds_carefully(integer, bigint, text, integer) RENAME TO grant_holds_carefully_open;

-- Locks the ticket type's row; returns its stock and why nobody may be granted a hold now (null: they may).
CREATE FUNCTION lock_sale_gate(p_ticket_type integer, OUT stock integer, OUT closed text)
LANGUAGE sql AS $$
  SELECT t.stock,
         CASE WHEN t.paused THEN 'paused'
              WHEN t.sale_starts_at > clock_timestamp() THEN 'not_on_sale' END
  FROM ticket_types t WHERE t.id = p_ticket_type
  FOR UPDATE
$$;

-- The fast path: as 0004's, plus `closed`; a closed sale grants nobody and refuses nobody.
CREATE FUNCTION grant_holds(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
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
    FROM grant_holds_open(p_ticket_type, p_epoch, p_lines, p_hold_seconds) g;
END
$$;

-- The careful path: as 0004's, plus `closed`. A closed sale grants nobody: each person's
-- outcome is 'prior' when their token already has a hold (a retry or a recovery: they keep
-- it), else 'closed' (they wait for the sale, in their place).
CREATE FUNCTION grant_holds_carefully(p_ticket_type integer, p_epoch bigint, p_lines text, p_hold_seconds integer)
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
    FROM grant_holds_carefully_open(p_ticket_type, p_epoch, p_lines, p_hold_seconds) g;
END
$$;
