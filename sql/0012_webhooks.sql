-- Webhooks (issue #21): a transactional outbox. Every change a webhook reports writes its
-- deliveries in the change's own transaction, through the triggers below, whichever code path
-- made it: the change and its deliveries commit together, or neither does. A delivery is one
-- event for one subscribed endpoint; the `webhooks` worker (src/webhooks/) posts it, signed.
-- Grants write one row per batch, which the worker expands (webhook_grant_batches, below).
-- No endpoint subscribed: the triggers write nothing, and a grant batch pays one look-up.

-- An endpoint a shop or the box office registered (POST /admin/webhooks). The secret signs
-- (Standard Webhooks, whsec_ + base64); after a rotation the previous one signs alongside
-- until previous_secret_until.
CREATE TABLE webhook_endpoints (
  id                    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url                   text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  events                text[] NOT NULL CHECK (cardinality(events) >= 1),
  description           text NOT NULL DEFAULT '',
  enabled               boolean NOT NULL DEFAULT true,
  secret                text NOT NULL,
  previous_secret       text,
  previous_secret_until timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One event for one endpoint. message_id is the event's webhook-id: the same to every endpoint
-- and on every retry, so a receiver dedupes by it. payload is the body: {type, timestamp, data}.
-- pending: next_attempt_at says when (a claimed delivery's lease: no other instance takes it
-- before); delivered; failed: every attempt of the schedule failed (the admin API retries it).
-- No foreign key to the endpoint: a per-row key check would cost a grant batch dearly (see
-- reservations in 0001); deleting an endpoint deletes its deliveries in the same statement.
CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id      integer NOT NULL,
  message_id       text NOT NULL,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
-- The worker claims due deliveries here, each endpoint's oldest due first (no more of one
-- endpoint's than it has room for); /metrics counts the pending and finds the oldest one's age
-- from the index alone (created_at included).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) INCLUDE (created_at) WHERE status = 'pending';
-- Retention: delivered rows are deleted WEBHOOK_RETENTION_DAYS after delivery, oldest first.
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (delivered_at) WHERE status = 'delivered';
-- GET /admin/webhooks/:id/deliveries pages an endpoint's deliveries newest first.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- An ISO 8601 time in UTC, as the API writes times (2026-12-07T18:04:35.123Z).
-- STABLE, as to_char is: an IMMUTABLE wrapper around it is never inlined, a call of its own.
CREATE FUNCTION webhook_time(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Whether an enabled endpoint subscribes to this event type (`*`: to every type).
CREATE FUNCTION webhook_subscribed(p_type text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND events && ARRAY[p_type, '*'])
$$;

-- Writes one event's deliveries, one per subscribed endpoint, all with one webhook-id.
CREATE FUNCTION webhook_emit(p_type text, p_at timestamptz, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_message text := 'msg_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
  INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload)
  SELECT e.id, v_message, p_type, jsonb_build_object('type', p_type, 'timestamp', webhook_time(p_at), 'data', p_data)
  FROM webhook_endpoints e
  WHERE e.enabled AND e.events && ARRAY[p_type, '*'];
END $$;

-- What every event about one hold or booking says of its ticket type.
CREATE FUNCTION webhook_type_data(p_ticket_type integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('ticket_type_id', t.id, 'event_id', t.event_id, 'currency', e.currency)
  FROM ticket_types t JOIN events e ON e.id = t.event_id WHERE t.id = p_ticket_type
$$;

-- hold.granted, the busy one (a grant batch is up to thousands of holds, each an event of its
-- own): the grant writes one row per batch, its holds as arrays, for the endpoints subscribed
-- at that moment, and nothing at all while none is. The webhooks worker expands a row into a
-- delivery per hold and endpoint (webhook_expand_grants, below): the row deleted and its
-- deliveries written in one transaction, so none is lost or made twice. A delivery per hold
-- written in the grant itself cost it half its pace (bench/scenarios/webhook-grants.ts).
CREATE TABLE webhook_grant_batches (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- the batch's webhook-ids: this, then each hold's grant_seq. Made with the grant, so an
  -- expansion lost (the worker commits asynchronously) and made again sends the same ids.
  message_prefix text NOT NULL,
  endpoint_ids   integer[] NOT NULL,
  ticket_type_id integer NOT NULL,
  event_id       integer NOT NULL,
  price          numeric(12, 2) NOT NULL,
  currency       text NOT NULL,
  granted_at     timestamptz NOT NULL,
  tokens         text[] NOT NULL,
  user_ids       text[] NOT NULL,
  quantities     integer[] NOT NULL,
  expires_at     timestamptz[] NOT NULL,
  grant_seqs     bigint[] NOT NULL
);

CREATE FUNCTION webhook_holds_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_endpoints integer[];
BEGIN
  SELECT array_agg(id) INTO v_endpoints FROM webhook_endpoints WHERE enabled AND events && ARRAY['hold.granted', '*'];
  IF v_endpoints IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_grant_batches
    (message_prefix, endpoint_ids, ticket_type_id, event_id, price, currency, granted_at, tokens, user_ids, quantities, expires_at, grant_seqs)
  SELECT 'msg_' || left(replace(gen_random_uuid()::text, '-', ''), 20), v_endpoints, g.ticket_type_id, t.event_id, t.price, e.currency, min(g.created_at),
         array_agg(g.token), array_agg(g.user_id), array_agg(g.quantity), array_agg(g.expires_at), array_agg(g.grant_seq)
  FROM granted g JOIN ticket_types t ON t.id = g.ticket_type_id JOIN events e ON e.id = t.event_id
  GROUP BY g.ticket_type_id, t.event_id, t.price, e.currency;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_holds_granted AFTER INSERT ON reservations
  REFERENCING NEW TABLE AS granted FOR EACH STATEMENT EXECUTE FUNCTION webhook_holds_granted();

-- Expands up to p_batches grant rows into their deliveries; returns how many it wrote. Several
-- instances at once take different rows (SKIP LOCKED). The webhook-ids of a batch share its
-- random prefix and end in each hold's grant_seq (unique): one gen_random_uuid() a hold would
-- cost as much as the rest. An endpoint deleted since gets none.
CREATE FUNCTION webhook_expand_grants(p_batches integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_written integer;
BEGIN
  WITH taken AS (
    DELETE FROM webhook_grant_batches WHERE id IN (
      SELECT id FROM webhook_grant_batches ORDER BY id LIMIT p_batches FOR UPDATE SKIP LOCKED)
    RETURNING *
  ), batch AS MATERIALIZED (
    SELECT taken.*, webhook_time(granted_at) AS granted_text FROM taken
  ), hold AS MATERIALIZED (
    SELECT b.endpoint_ids, b.granted_at, b.message_prefix || lpad(to_hex(h.seq), 12, '0') AS message_id,
           jsonb_build_object('type', 'hold.granted', 'timestamp', b.granted_text, 'data', jsonb_build_object(
             'queue_token', h.token, 'user_id', h.user_id, 'ticket_type_id', b.ticket_type_id, 'event_id', b.event_id,
             'quantity', h.quantity, 'amount', b.price * h.quantity, 'currency', b.currency,
             'expires_at', webhook_time(h.expires_at))) AS payload
    FROM batch b CROSS JOIN LATERAL unnest(b.tokens, b.user_ids, b.quantities, b.expires_at, b.grant_seqs)
      AS h(token, user_id, quantity, expires_at, seq)
  )
  INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload, created_at)
  SELECT w.id, hold.message_id, 'hold.granted', hold.payload, hold.granted_at
  FROM hold JOIN webhook_endpoints w ON w.id = ANY (hold.endpoint_ids);
  GET DIAGNOSTICS v_written = ROW_COUNT;
  RETURN v_written;
END $$;

-- hold.released (the buyer gave it back) and hold.expired (the cleaner): a hold that ended
-- without a booking. A confirmed hold is told as booking.confirmed, by its booking.
CREATE FUNCTION webhook_hold_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_type text := 'hold.' || NEW.status;
BEGIN
  IF webhook_subscribed(v_type) THEN
    PERFORM webhook_emit(v_type, NEW.ended_at, webhook_type_data(NEW.ticket_type_id) || jsonb_build_object(
      'queue_token', NEW.token, 'user_id', NEW.user_id, 'quantity', NEW.quantity,
      'expires_at', webhook_time(NEW.expires_at), 'ended_at', webhook_time(NEW.ended_at),
      'reason', CASE NEW.status WHEN 'expired' THEN 'not confirmed before expires_at' ELSE 'released by the buyer' END));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_hold_ended AFTER UPDATE OF status ON reservations FOR EACH ROW
  WHEN (OLD.status = 'held' AND NEW.status IN ('released', 'expired'))
  EXECUTE FUNCTION webhook_hold_ended();

-- A booking's fields, as booking.confirmed and booking.cancelled carry them.
CREATE FUNCTION webhook_booking_data(b bookings) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT webhook_type_data(b.ticket_type_id) || jsonb_build_object(
    'booking_id', b.id, 'booking_ref', b.booking_ref, 'order_ref', b.order_ref, 'queue_token', b.token,
    'user_id', b.user_id, 'quantity', b.quantity, 'amount', b.amount, 'currency', b.currency,
    'confirmed_at', webhook_time(b.created_at))
$$;

-- booking.confirmed, and ticket_type.sold_out when this booking took the type's last ticket:
-- nothing in stock and no hold out that could still come back. Two bookings of the last two
-- holds, made at once, would each see the other's hold still held; so the check runs under a
-- lock of its own per type (taken only when the stock is 0), and the second to take it sees
-- the first's booking. Not the type's row lock: the booking's foreign key holds a share of
-- it, and two bookings each waiting to upgrade theirs would deadlock.
CREATE FUNCTION webhook_booking_confirmed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_type ticket_types;
BEGIN
  IF webhook_subscribed('booking.confirmed') THEN
    PERFORM webhook_emit('booking.confirmed', NEW.created_at, webhook_booking_data(NEW));
  END IF;
  IF webhook_subscribed('ticket_type.sold_out')
     AND (SELECT stock FROM ticket_types WHERE id = NEW.ticket_type_id) = 0 THEN
    PERFORM pg_advisory_xact_lock(hashtext('ticket-queue:sold-out'), NEW.ticket_type_id);
    SELECT * INTO v_type FROM ticket_types WHERE id = NEW.ticket_type_id;
    IF v_type.stock = 0 AND NOT EXISTS (
      SELECT 1 FROM reservations WHERE ticket_type_id = NEW.ticket_type_id AND status = 'held'
    ) THEN
      PERFORM webhook_emit('ticket_type.sold_out', now(), webhook_type_data(v_type.id) || jsonb_build_object(
        'name', v_type.name, 'capacity', v_type.capacity,
        'booked', (SELECT coalesce(sum(quantity), 0) FROM bookings WHERE ticket_type_id = v_type.id AND status = 'confirmed')));
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_booking_confirmed AFTER INSERT ON bookings FOR EACH ROW
  EXECUTE FUNCTION webhook_booking_confirmed();

-- booking.cancelled: the shop's or the operator's cancel (a refund, a chargeback, a mistake).
CREATE FUNCTION webhook_booking_cancelled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF webhook_subscribed('booking.cancelled') THEN
    PERFORM webhook_emit('booking.cancelled', NEW.cancelled_at, webhook_booking_data(NEW) || jsonb_build_object(
      'cancelled_at', webhook_time(NEW.cancelled_at), 'reason', NEW.cancel_reason));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_booking_cancelled AFTER UPDATE OF status ON bookings FOR EACH ROW
  WHEN (OLD.status = 'confirmed' AND NEW.status = 'cancelled')
  EXECUTE FUNCTION webhook_booking_cancelled();

-- ticket_type.updated: an operator's change to a ticket type (created, edited, paused, its
-- sale start moved), told from its audit row, which the change writes in its own transaction.
-- A PATCH that changed nothing changed nothing to tell.
CREATE FUNCTION webhook_ticket_type_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF webhook_subscribed('ticket_type.updated') THEN
    PERFORM webhook_emit('ticket_type.updated', NEW.at, (
      SELECT webhook_type_data(t.id) || jsonb_build_object(
        'name', t.name, 'price', t.price, 'capacity', t.capacity, 'per_user_limit', t.per_user_limit,
        'paused', t.paused, 'sale_starts_at', webhook_time(t.sale_starts_at),
        'max_active_holds', t.max_active_holds, 'holds_per_minute', t.holds_per_minute, 'hold_seconds', t.hold_seconds,
        'changes', NEW.changes, 'actor', NEW.actor)
      FROM ticket_types t WHERE t.id = NEW.target_id));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_ticket_type_updated AFTER INSERT ON admin_audit FOR EACH ROW
  WHEN (NEW.target_type = 'ticket_type' AND NEW.changes <> '{}'::jsonb)
  EXECUTE FUNCTION webhook_ticket_type_updated();
