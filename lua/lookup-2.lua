--[[
  Everything status needs about one token, in one O(1) step.

  Input:
    KEYS[1] reservation:{T}:<id>   the token's record
    KEYS[2] meta:{T}               hash: epoch, seq, served, rate
    ARGV[1] batch key prefix, batch:{T}:

  Output (one tab-separated text, cheap for the client to read; parseLookup in
  src/store/formats.ts reads it):
    state, quantity, place, expires_at, booking_id, served, rate, booking_ref; '' where
    unknown. A token whose batch was settled with a hold reads as 'reserved'.
]]
local record = KEYS[1]
local metaKey = KEYS[2]
local batchPrefix = ARGV[1]

--@include resolveState

local r = redis.call('HMGET', record, 'state', 'qty', 'place', 'expires_at', 'booking_id', 'batch', 'pos', 'booking_ref')
local state, expiresAt = resolveState(batchPrefix, r[1], r[6], r[7], r[4])
local m = redis.call('HMGET', metaKey, 'served', 'rate')
return table.concat({state or '', r[2] or '', r[3] or '', expiresAt or '', r[5] or '', m[1] or '0', m[2] or '', r[8] or ''}, '\t')
