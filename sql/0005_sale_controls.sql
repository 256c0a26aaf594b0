-- What the team running a sale controls per ticket type (the admin API, src/admin/events.ts):
--   paused            the processor serves nobody of this type; joins still queue, in order
--   sale_starts_at    before it the type is not on sale; PREQUEUE_MINUTES before it, joiners
--                     wait in a pre-queue that is shuffled once at the start
--   max_active_holds  at most this many holds outstanding at once (null: no ceiling)
--   holds_per_minute  a ceiling on the grant rate (null: as fast as it goes)
ALTER TABLE ticket_types
  ADD COLUMN paused           boolean NOT NULL DEFAULT false,
  ADD COLUMN sale_starts_at   timestamptz,
  ADD COLUMN max_active_holds integer CHECK (max_active_holds >= 1),
  ADD COLUMN holds_per_minute integer CHECK (holds_per_minute >= 1);

-- Live figures and admission control count a type's holds by status without a scan;
-- the bookings export pages a type's bookings in id order.
CREATE INDEX reservations_type_status ON reservations (ticket_type_id, status);
CREATE INDEX bookings_type_id ON bookings (ticket_type_id, id);
