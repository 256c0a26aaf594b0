--[[
  Write back what PostgreSQL decided for a batch in flight, and take it out of flight.
  One code per token, in the batch's order:
    R reserved: holds stock until its deadline (the batch's, or an override); indexed
    Q queued:   not served yet; back to the head of the queue, in batch order
    S sold_out, D duplicate, C confirmed, E expired, X released: a final state
  A token goes back to the queue only while still pending, and a reserved mark never
  overwrites a later state (a confirm that raced ahead), so settling is safe to repeat.

  Input:
    KEYS[1] queue:{T}
    KEYS[2] inflight:{T}    hash: batch id -> "<ms claimed>:<id>,<id>,..."
    KEYS[3] deadlines:{T}   sorted set: token id -> hold deadline in ms
    KEYS[4] meta:{T}        hash: epoch, seq, served, rate
    ARGV[1] record key prefix, reservation:{T}:
    ARGV[2] mapping key prefix, token-ticket-type:{T}:
    ARGV[3] user key prefix, user:{T}:
    ARGV[4] ms a token mapping lives, for a reserved token that lost it
    ARGV[5] seconds a record in a final state is kept
    ARGV[6] seconds a queue place lives
    ARGV[7] the last place that is done with (0 leaves it)
    ARGV[8] grants per second lately ('' leaves it)
    ARGV[9] ticket type id (the mapping's value)
    ARGV[10] batch id
    ARGV[11] codes, one character per token
    ARGV[12] the batch's hold deadline in ms ('' when nobody holds)
    ARGV[13..] pairs: position in the batch (1-based), its own deadline in ms

  Output:
    how many tokens went back to the head of the queue, or -1 when the batch is no longer
    in flight (someone recovered it meanwhile)
]]
local queueKey = KEYS[1]
local inflightKey = KEYS[2]
local deadlinesKey = KEYS[3]
local metaKey = KEYS[4]
local recordPrefix = ARGV[1]
local mappingPrefix = ARGV[2]
local userPrefix = ARGV[3]
local mappingTtl = ARGV[4]
local endedTtl = ARGV[5]
local placeTtl = ARGV[6]
local served = tonumber(ARGV[7])
local rate = ARGV[8]
local ticketTypeId = ARGV[9]
local batchId = ARGV[10]
local codes = ARGV[11]
local batchDeadline = ARGV[12]

local FINAL = {S = 'sold_out', D = 'duplicate', C = 'confirmed', E = 'expired', X = 'released'}

-- Lua's unpack stops near 8000 values: variadic calls go in slices of 1000.
local function callInSlices(command, key, values)
  for first = 1, #values, 1000 do
    redis.call(command, key, unpack(values, first, math.min(first + 999, #values)))
  end
end

local entry = redis.call('HGET', inflightKey, batchId)
if not entry then
  return -1
end
local overrides = {}
for i = 13, #ARGV, 2 do
  overrides[tonumber(ARGV[i])] = ARGV[i + 1]
end

local position, deadlines, back = 0, {}, {}
for id in string.gmatch(string.sub(entry, string.find(entry, ':', 1, true) + 1), '[^,]+') do
  position = position + 1
  local code = string.sub(codes, position, position)
  local record = recordPrefix .. id
  local current = redis.call('HGET', record, 'state')
  if code == 'R' then
    if current == 'pending' or current == 'queued' then
      local deadline = overrides[position] or batchDeadline
      redis.call('HSET', record, 'state', 'reserved', 'expires_at', deadline)
      if current == 'queued' then -- went back to the queue meanwhile: its mapping went too
        redis.call('SET', mappingPrefix .. id, ticketTypeId, 'PX', mappingTtl)
      end
      deadlines[#deadlines + 1] = deadline
      deadlines[#deadlines + 1] = id
    end
  elseif code == 'Q' then
    if current == 'pending' then
      redis.call('HSET', record, 'state', 'queued')
      redis.call('EXPIRE', record, placeTtl)
      redis.call('DEL', mappingPrefix .. id)
      back[#back + 1] = id
    end
  elseif current and FINAL[code] then
    local user = redis.call('HGET', record, 'user')
    redis.call('HSET', record, 'state', FINAL[code])
    redis.call('EXPIRE', record, endedTtl)
    redis.call('DEL', mappingPrefix .. id)
    redis.call('ZREM', deadlinesKey, id)
    if user and redis.call('GET', userPrefix .. user) == id then
      redis.call('DEL', userPrefix .. user)
    end
  end
end

redis.call('HDEL', inflightKey, batchId)
callInSlices('ZADD', deadlinesKey, deadlines) -- score, member pairs: slices stay even
-- LPUSH puts the last value it gets first: push the batch's order reversed
local reversed = {}
for i = #back, 1, -1 do
  reversed[#reversed + 1] = back[i]
end
callInSlices('LPUSH', queueKey, reversed)
if served > 0 and served > tonumber(redis.call('HGET', metaKey, 'served') or '0') then
  redis.call('HSET', metaKey, 'served', served)
end
if rate ~= '' then
  redis.call('HSET', metaKey, 'rate', rate)
end
return #back
