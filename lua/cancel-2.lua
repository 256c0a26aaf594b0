--[[
  Tell Redis a booking was cancelled, after PostgreSQL cancelled it (src/admin/cancel.ts):
  the token's record reads 'cancelled' with the booking's id and reference, kept a while for
  status as finish-2.lua keeps a final state; the user's tally of tickets booked goes down;
  live streams on every instance hear of it on changes:{T}.

  The tally goes down exactly when it had gone up for this booking and not down since: the
  record is flipped from 'confirmed' here (finish-2.lua counted it), or there is no record any
  more (it outlived its hour) and this cancel is the one PostgreSQL moved. A record still
  'pending' (the confirm's tidy has not run yet) was never counted; finish-2.lua leaves a
  cancelled record as it is, so it never will be. A repeat cancel finds 'cancelled' and does
  nothing but publish; one that finds 'confirmed' (the first cancel never reached Redis) makes
  good what the first one missed.

  Input:
    KEYS[1] reservation:{T}:<id>   the token's record
    KEYS[2] bought:{T}             hash: user id -> tickets booked
    ARGV[1] the booking's user id
    ARGV[2] its quantity
    ARGV[3] its booking id
    ARGV[4] its booking reference
    ARGV[5] '1' when this cancel is the one that moved the booking in PostgreSQL, else '0'
    ARGV[6] seconds a record in a final state is kept
    ARGV[7] the type's changes channel, changes:{T}
    ARGV[8] the token id, published there

  Output:
    1 when the tally went down, else 0
]]
local record = KEYS[1]
local boughtKey = KEYS[2]
local user, quantity, bookingId, bookingRef = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local moved = ARGV[5] == '1'
local endedTtl = ARGV[6]

local state = redis.call('HGET', record, 'state')
local untally = state == 'confirmed' or (not state and moved)
if state and state ~= 'cancelled' then
  redis.call('HSET', record, 'state', 'cancelled', 'booking_id', bookingId, 'booking_ref', bookingRef)
  redis.call('EXPIRE', record, endedTtl)
end
if untally then
  if redis.call('HINCRBY', boughtKey, user, -quantity) <= 0 then
    redis.call('HDEL', boughtKey, user)
  end
end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return untally and 1 or 0
