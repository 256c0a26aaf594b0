--[[
  Everything status needs about one token, in one O(1) step.

  Input:
    KEYS[1] reservation:{T}:<id>   the token's record
    KEYS[2] meta:{T}               hash: epoch, seq, served, rate

  Output:
    {state, quantity, place, expires_at, booking_id, served, rate}, '' where unknown
]]
local record = KEYS[1]
local metaKey = KEYS[2]

local r = redis.call('HMGET', record, 'state', 'qty', 'place', 'expires_at', 'booking_id')
local m = redis.call('HMGET', metaKey, 'served', 'rate')
return {r[1] or '', r[2] or '', r[3] or '', r[4] or '', r[5] or '', m[1] or '0', m[2] or ''}
