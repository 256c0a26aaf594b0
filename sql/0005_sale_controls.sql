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

-- The bookings export pages a type's bookings in id order. Counting a type's live holds uses
-- reservations_one_live_hold (0001); no index is added on reservations, whose every hold,
-- confirm and expiry would pay for it.
CREATE INDEX bookings_type_id ON bookings (ticket_type_id, id);
