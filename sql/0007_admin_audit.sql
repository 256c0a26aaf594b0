-- Every change made through the admin API (src/admin/audit.ts): one row per change, written in
-- the change's own transaction, so a change and its row commit together or not at all.
--   route        the route's method and pattern, e.g. PATCH /admin/ticket-types/:id
--   target_type  event or ticket_type; target_id its id (a creation: the new one)
--   changes      {field: {old, new}}: the fields whose value changed (a creation: every field
--                set, old null); {} for a change that left every value as it was
--   request_id   the request's X-Request-Id; client its address as the rate limiter sees it
-- GET /admin/audit pages by id, newest first: the primary key is the only index it needs.
CREATE TABLE admin_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  route       text NOT NULL,
  target_type text NOT NULL,
  target_id   bigint NOT NULL,
  changes     jsonb NOT NULL,
  request_id  text NOT NULL,
  client      text NOT NULL
);
