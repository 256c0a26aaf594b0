--[[
  Write back what PostgreSQL decided for a batch in flight, and take it out of flight.
  One code per token, in the batch's order (TypeScript writes them: decisionOf in
  src/store/formats.ts, each code spelled by SETTLE_CODES in src/domain/states.ts; FINAL below
  reads them back, and test/states.test.ts holds the two to the same letters):
    R reserved: holds stock until the batch's deadline (or its own, given as an override)
    Q queued:   not served yet; back to the head of the queue, in batch order
    S sold_out, D duplicate, I invalid (a malformed record), L limit_reached (over the user's
    per_user_limit), C confirmed, E expired, X released: a final state
  The holds are written once for the whole batch, in batch:{T}:<batch id>, a text this script
  owns: "<deadline>:<codes>:<id>,<id>,...", the batch's deadline in ms ('' when nobody holds),
  the codes as given and the batch's token ids in order (read by includes/resolveState.lua
  and by parseBatchOutcome in src/store/formats.ts), with one entry in the deadline index: a reserved
  token's record stays 'pending' and points at its batch and position, and readers resolve it
  there. Only the other codes touch records one by one. A token goes back to the queue only
  while still pending, so settling is safe to repeat; a batch no longer in flight (someone
  recovered it meanwhile) is left alone.

  Input:
    KEYS[1] queue:{T}
    KEYS[2] inflight:{T}    hash: batch id -> "<ms claimed>:<id>,<id>,..."
    KEYS[3] deadlines:{T}   sorted set: batch id -> latest hold deadline in the batch, ms
    KEYS[4] meta:{T}        hash: epoch, seq, served, rate
    ARGV[1] record key prefix, reservation:{T}:
    ARGV[2] users:{T}, the users' live places (includes/users.lua; a key of the type's slot, passed like the prefixes)
    ARGV[3] batch key prefix, batch:{T}:
    ARGV[4] ms a batch's outcome outlasts its deadline (as long as the records pointing at it)
    ARGV[5] seconds a record in a final state is kept
    ARGV[6] seconds a queue place lives
    ARGV[7] the last place that is done with (0 leaves it)
    ARGV[8] grants per second lately ('' leaves it)
    ARGV[9] batch id
    ARGV[10] codes, one character per token
    ARGV[11] the batch's hold deadline in ms ('' when nobody holds)
    ARGV[12] the type's changes channel, changes:{T} (live streams listen; src/streams)
    ARGV[13..] pairs: position in the batch (1-based), its own deadline in ms

  Output:
    how many tokens went back to the head of the queue, or -1 when the batch is no longer
    in flight
]]
local queueKey = KEYS[1]
local inflightKey = KEYS[2]
local deadlinesKey = KEYS[3]
local metaKey = KEYS[4]
local recordPrefix = ARGV[1]
local usersKey = ARGV[2]
local batchPrefix = ARGV[3]
local graceMs = tonumber(ARGV[4])
local endedTtl = ARGV[5]
local placeTtl = ARGV[6]
local served = tonumber(ARGV[7])
local rate = ARGV[8]
local batchId = ARGV[9]
local codes = ARGV[10]
local deadline = ARGV[11]
local changesChannel = ARGV[12]

--@include users

local FINAL = {S = 'sold_out', D = 'duplicate', I = 'invalid', L = 'limit_reached', C = 'confirmed', E = 'expired',
  X = 'released'}

local entry = redis.call('HGET', inflightKey, batchId)
if not entry then
  return -1
end
local ids = string.sub(entry, string.find(entry, ':', 1, true) + 1)

-- Holds with a deadline of their own (recovered ones) carry it in their record.
local latest = tonumber(deadline) or 0
for i = 13, #ARGV, 2 do
  local position, own = tonumber(ARGV[i]), ARGV[i + 1]
  local at = 0
  for id in string.gmatch(ids, '[^,]+') do
    at = at + 1
    if at == position then
      -- never recreate a record Redis lost: it would live on without a TTL
      if redis.call('EXISTS', recordPrefix .. id) == 1 then
        redis.call('HSET', recordPrefix .. id, 'expires_at', own)
      end
      break
    end
  end
  latest = math.max(latest, tonumber(own))
end

-- Everything but a reserved token is written one by one: the rare paths.
local back = {}
if string.find(codes, '[^R]') then
  local position = 0
  for id in string.gmatch(ids, '[^,]+') do
    position = position + 1
    local code = string.sub(codes, position, position)
    if code ~= 'R' then
      local record = recordPrefix .. id
      local current = redis.call('HGET', record, 'state')
      if code == 'Q' then
        if current == 'pending' then
          redis.call('HSET', record, 'state', 'queued')
          redis.call('HDEL', record, 'batch', 'pos')
          redis.call('EXPIRE', record, placeTtl)
          back[#back + 1] = id
        end
      elseif current and FINAL[code] then
        local user = redis.call('HGET', record, 'user')
        redis.call('HSET', record, 'state', FINAL[code])
        redis.call('EXPIRE', record, endedTtl)
        forgetUser(usersKey, user, id)
      end
    end
  end
end

if latest > 0 then
  redis.call('SET', batchPrefix .. batchId, deadline .. ':' .. codes .. ':' .. ids, 'PXAT', latest + graceMs)
  redis.call('ZADD', deadlinesKey, latest, batchId)
end
redis.call('HDEL', inflightKey, batchId)
if #back > 0 then
  keepUsers(usersKey, tonumber(placeTtl)) -- their places live on
end
-- LPUSH puts the last value it gets first: push the batch's order reversed, in slices
-- (Lua's unpack stops near 8000 values)
for last = #back, 1, -1000 do
  local slice = {}
  for i = last, math.max(1, last - 999), -1 do
    slice[#slice + 1] = back[i]
  end
  redis.call('LPUSH', queueKey, unpack(slice))
end
if served > 0 and served > tonumber(redis.call('HGET', metaKey, 'served') or '0') then
  redis.call('HSET', metaKey, 'served', served)
end
if rate ~= '' then
  redis.call('HSET', metaKey, 'rate', rate)
end

-- Live streams learn a batch's outcome from the served mark (everyone up to it is done with),
-- read once a tick per type. Whom the mark does not cover is named on the changes channel:
-- everyone after the first person sent back (the mark stops before them), and the whole batch
-- when the mark is left alone (a recovered batch). Usually nobody: nothing is published.
local firstBack = string.find(codes, 'Q', 1, true)
if served == 0 or firstBack then
  local named, position = {}, 0
  for id in string.gmatch(ids, '[^,]+') do
    position = position + 1
    if (served == 0 or position > firstBack) and string.sub(codes, position, position) ~= 'Q' then
      named[#named + 1] = id
    end
  end
  if #named > 0 then
    redis.call('PUBLISH', changesChannel, table.concat(named, ','))
  end
end
return #back
