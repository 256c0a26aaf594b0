-- Tokens and user ids are compared byte by byte (COLLATE "C"). They are identifiers, not
-- words: nothing sorts them for people to read, and under the database's default collation
-- every index comparison went through strcoll(), which made the token and one-live-hold
-- indexes the largest part of a grant (see bench/). Equality is the same either way.
ALTER TABLE bookings DROP CONSTRAINT bookings_token_fkey;
ALTER TABLE reservations
  ALTER COLUMN token TYPE text COLLATE "C",
  ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE bookings
  ALTER COLUMN token TYPE text COLLATE "C",
  ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE bookings ADD CONSTRAINT bookings_token_fkey FOREIGN KEY (token) REFERENCES reservations (token);
