--[[
  Take the next batch off the head of the queue for serving. Each token taken is marked
  pending, gets its token mapping, and is recorded in flight, so nothing popped lives only
  in the processor's memory. Tokens that left the queue meanwhile (released, expired records)
  are dropped. Refuses while an earlier batch is still in flight: that one is recovered first,
  or holds would be granted out of join order.

  Input:
    KEYS[1] queue:{T}      list of token ids, head first
    KEYS[2] inflight:{T}   sorted set: token id -> ms it was claimed
    KEYS[3] meta:{T}       hash: epoch, seq, served
    ARGV[1] most tokens to take
    ARGV[2] now in ms
    ARGV[3] record key prefix, reservation:{T}:
    ARGV[4] mapping key prefix, token-ticket-type:{T}:
    ARGV[5] ms a pending record and its mapping live
    ARGV[6] ticket type id (the mapping's value)

  Output:
    {'busy'}  an earlier batch is in flight
    {'empty'} nobody is waiting
    {'claimed', epoch, id1, user1, quantity1, place1, id2, ...}
]]
local queueKey = KEYS[1]
local inflightKey = KEYS[2]
local metaKey = KEYS[3]
local count = tonumber(ARGV[1])
local now = ARGV[2]
local recordPrefix = ARGV[3]
local mappingPrefix = ARGV[4]
local pendingTtl = ARGV[5]
local ticketTypeId = ARGV[6]

if redis.call('ZCARD', inflightKey) > 0 then
  return {'busy'}
end

local ids = redis.call('LPOP', queueKey, count)
if not ids then
  return {'empty'}
end

local out = {'claimed', redis.call('HGET', metaKey, 'epoch') or '0'}
for _, id in ipairs(ids) do
  local record = recordPrefix .. id
  local found = redis.call('HMGET', record, 'state', 'user', 'qty', 'place')
  if found[1] == 'queued' then
    redis.call('HSET', record, 'state', 'pending')
    redis.call('PEXPIRE', record, pendingTtl)
    redis.call('SET', mappingPrefix .. id, ticketTypeId, 'PX', pendingTtl)
    redis.call('ZADD', inflightKey, now, id)
    out[#out + 1] = id
    out[#out + 1] = found[2]
    out[#out + 1] = found[3]
    out[#out + 1] = found[4]
  end
end
return out
