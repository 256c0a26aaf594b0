--[[
  Write back what PostgreSQL decided for a claimed batch, and take it out of flight.
    reserved: the token holds stock until expires_at; its deadline is indexed.
    queued:   not served yet; back to the head of the queue, in the order given.
    anything else (sold_out, duplicate, confirmed, expired, released): a final state.
  A token is only put back in the queue while it is still pending, and a reserved mark never
  overwrites a later state, so settling twice (a retry, a recovery) changes nothing.

  Input:
    KEYS[1] queue:{T}
    KEYS[2] inflight:{T}
    KEYS[3] deadlines:{T}   sorted set: token id -> hold deadline in ms
    KEYS[4] meta:{T}        hash: epoch, seq, served, rate
    ARGV[1] record key prefix, reservation:{T}:
    ARGV[2] mapping key prefix, token-ticket-type:{T}:
    ARGV[3] user key prefix, user:{T}:
    ARGV[4] ms a record outlasts its hold deadline
    ARGV[5] seconds a record in a final state is kept
    ARGV[6] seconds a queue place lives
    ARGV[7] the last place that is done with (0 leaves it)
    ARGV[8] grants per second lately ('' leaves it)
    ARGV[9] ticket type id (the mapping's value)
    ARGV[10..] triples: token id, state, deadline in ms ('' unless reserved)

  Output:
    how many tokens went back to the head of the queue
]]
local queueKey = KEYS[1]
local inflightKey = KEYS[2]
local deadlinesKey = KEYS[3]
local metaKey = KEYS[4]
local recordPrefix = ARGV[1]
local mappingPrefix = ARGV[2]
local userPrefix = ARGV[3]
local graceMs = tonumber(ARGV[4])
local endedTtl = ARGV[5]
local placeTtl = ARGV[6]
local served = tonumber(ARGV[7])
local rate = ARGV[8]
local ticketTypeId = ARGV[9]

local back = {}
for i = 10, #ARGV, 3 do
  local id, state, deadline = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local record = recordPrefix .. id
  local current = redis.call('HGET', record, 'state')
  redis.call('ZREM', inflightKey, id)
  if state == 'reserved' then
    if current == 'pending' or current == 'queued' then
      local keepUntil = tonumber(deadline) + graceMs
      redis.call('HSET', record, 'state', 'reserved', 'expires_at', deadline)
      redis.call('PEXPIREAT', record, keepUntil)
      redis.call('SET', mappingPrefix .. id, ticketTypeId, 'PXAT', keepUntil)
      redis.call('ZADD', deadlinesKey, deadline, id)
    end
  elseif state == 'queued' then
    if current == 'pending' then
      redis.call('HSET', record, 'state', 'queued')
      redis.call('EXPIRE', record, placeTtl)
      redis.call('DEL', mappingPrefix .. id)
      back[#back + 1] = id
    end
  elseif current then
    local user = redis.call('HGET', record, 'user')
    redis.call('HSET', record, 'state', state)
    redis.call('EXPIRE', record, endedTtl)
    redis.call('DEL', mappingPrefix .. id)
    redis.call('ZREM', deadlinesKey, id)
    if user and redis.call('GET', userPrefix .. user) == id then
      redis.call('DEL', userPrefix .. user)
    end
  end
end

for i = #back, 1, -1 do
  redis.call('LPUSH', queueKey, back[i])
end
if served > 0 and served > tonumber(redis.call('HGET', metaKey, 'served') or '0') then
  redis.call('HSET', metaKey, 'served', served)
end
if rate ~= '' then
  redis.call('HSET', metaKey, 'rate', rate)
end
return #back
