-- The tickets held, per ticket type: what its holds not yet ended hold (status 'held', deadline
-- passed or not: until the cleaner ends a hold, its tickets are neither in stock nor booked),
-- how many holds, and the earliest deadline. The one definition every reader uses: the stock
-- ledger (I2), the admin figures and the gauges, whether a queue can still be served, the room
-- under max_active_holds, a sold-through type's next deadline. It reads the held rows alone:
-- one type's through the partial index reservations_one_live_hold, every type's through
-- reservations_due. (The catalog's "sold out" asks only whether one hold is out, and stops there.)
CREATE VIEW held_tickets AS
  SELECT ticket_type_id, sum(quantity) AS tickets, count(*) AS holds, min(expires_at) AS next_deadline
  FROM reservations
  WHERE status = 'held'
  GROUP BY ticket_type_id;
