--[[
  Tidy Redis after PostgreSQL ended holds (confirmed, released or expired): the record keeps
  the final state for a while so status can answer (a booking with its id and public
  reference), and the user may join again. A booking adds its tickets
  to the user's tally, which joins check against the per-user limit (once: a record already
  confirmed is not counted again), and renews the tally's lifetime: it lasts the sale and goes
  some days after the type's last booking (PostgreSQL still decides the limit at the grant).
  A record already cancelled (cancel-2.lua) keeps that state: a confirm's tidy that arrives
  after the cancel changes nothing of it. Reconcile may pass 'cancelled' for a booking
  cancelled while Redis missed both: no tally then. (A batch's entry in the deadline index
  goes when reconcile finds all of its holds ended.)

  Input:
    KEYS[1] reservation:{T}:<id of the first token>; every key touched shares its hash tag
    KEYS[2] bought:{T}      hash: user id -> tickets booked
    ARGV[1] record key prefix, reservation:{T}:
    ARGV[2] users:{T}, the users' live places (includes/users.lua; a key of the type's slot, passed like the prefixes)
    ARGV[3] seconds a record in a final state is kept
    ARGV[4] the type's changes channel, changes:{T}: the ids are published there, so live
            streams (src/streams) holding these tokens, on any instance, look them up
    ARGV[5] seconds the tally lives after the type's last booking
    ARGV[6..] quadruples: token id, final state, booking id and booking reference ('' for none)

  Output:
    how many records were found and updated
]]
local recordPrefix = ARGV[1]
local usersKey = ARGV[2]
local endedTtl = ARGV[3]
local changesChannel = ARGV[4]
local boughtTtl = ARGV[5]
local boughtKey = KEYS[2]

--@include users

local updated = 0
local ids = {}
for i = 6, #ARGV, 4 do
  local id, state, bookingId, bookingRef = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  ids[#ids + 1] = id
  local record = recordPrefix .. id
  local found = redis.call('HMGET', record, 'user', 'state', 'qty')
  local user = found[1]
  if user then
    if found[2] ~= 'cancelled' then
      if state == 'confirmed' and found[2] ~= 'confirmed' then
        redis.call('HINCRBY', boughtKey, user, tonumber(found[3]) or 0)
        redis.call('EXPIRE', boughtKey, boughtTtl)
      end
      redis.call('HSET', record, 'state', state)
      if bookingId ~= '' then
        redis.call('HSET', record, 'booking_id', bookingId, 'booking_ref', bookingRef)
      end
      redis.call('EXPIRE', record, endedTtl)
    end
    forgetUser(usersKey, user, id)
    updated = updated + 1
  end
end
redis.call('PUBLISH', changesChannel, table.concat(ids, ','))
return updated
