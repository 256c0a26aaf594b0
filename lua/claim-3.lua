--[[
  Take the next batch off the head of the queue for serving. Each token taken is marked
  pending with its batch and position in it; its record keeps its TTL (join-3.lua writes it,
  so serving creates no key per person). The batch is recorded in
  flight as one entry, so nothing popped lives only in the processor's memory. settle-4.lua later writes the batch's outcome once.
  Tokens that left the queue meanwhile (released, expired records) are dropped.
  Refuses while a batch the caller does not name as its own is in flight: it belongs to a
  processor that died (recovered first) or to another one that still thinks it holds the lease
  (after Redis lost it, say); serving alongside it would grant holds out of join order.
  With a holds_per_minute ceiling, it takes at most the tokens of a bucket kept in meta:{T}
  (so the ceiling holds across processors and lease moves), on Redis' clock: the bucket fills
  at the ceiling's rate up to a second's worth, starts empty, and pays one token per person
  taken. Without a ceiling the bucket is not touched.

  Input:
    KEYS[1] queue:{T}      list of token ids, head first
    KEYS[2] inflight:{T}   hash: batch id -> "<ms claimed>:<id>,<id>,..." (written here, read by
                           settle-4.lua and by parseInflightEntry in src/store/formats.ts)
    KEYS[3] meta:{T}       hash: epoch, seq, served; bucket_tokens, bucket_at (ms) with a ceiling
    ARGV[1] most tokens to take
    ARGV[2] now in ms
    ARGV[3] record key prefix, reservation:{T}:
    ARGV[4] id of the new batch
    ARGV[5] the caller's own batches in flight, as "<id>,<id>" ('' for none)
    ARGV[6] holds_per_minute, the ceiling on the rate people are taken ('' for none)

  Output:
    'busy'  other batches are in flight, or this batch id is in flight already (a repeated call)
    'empty' nobody is waiting
    'limited <ms>' people wait, but the ceiling allows nobody for about this long
    otherwise one text: "<queue epoch> <how many were popped>", then a line per token taken:
      "<token>\t<user id>\t<quantity>\t<place>" (written by includes/enqueue.lua), ready for
      PostgreSQL; a damaged record's line is '\t\t\t' (no token), refused alone as invalid.
    TypeScript reads the answer with parseClaimReply (src/store/formats.ts).
]]
local queueKey = KEYS[1]
local inflightKey = KEYS[2]
local metaKey = KEYS[3]
local count = tonumber(ARGV[1])
local now = ARGV[2]
local recordPrefix = ARGV[3]
local batchId = ARGV[4]
local owned = ARGV[5]
local perMinute = tonumber(ARGV[6])

-- The same claim again (a client's retry after its connection closed under it, as ioredis'
-- Cluster does in a failover): the batch is in flight already and must not be overwritten by a
-- second one; it is recovered from PostgreSQL like any batch whose processor went quiet.
if redis.call('HEXISTS', inflightKey, batchId) == 1 then
  return 'busy'
end
local inflight = redis.call('HLEN', inflightKey)
if inflight > 0 then
  local mine = 0
  for ownId in string.gmatch(owned, '[^,]+') do
    mine = mine + redis.call('HEXISTS', inflightKey, ownId)
  end
  if inflight > mine then
    return 'busy'
  end
end

local bucket
if perMinute then
  local time = redis.call('TIME')
  local nowMs = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
  local perMs = perMinute / 60000
  local saved = redis.call('HMGET', metaKey, 'bucket_tokens', 'bucket_at')
  local tokens, at = tonumber(saved[1]), tonumber(saved[2])
  if not tokens or not at then
    tokens, at = 0, nowMs
  end
  tokens = math.min(math.max(1, perMinute / 60), tokens + math.max(0, nowMs - at) * perMs)
  if tokens < 1 then
    if redis.call('LLEN', queueKey) == 0 then
      return 'empty'
    end
    redis.call('HSET', metaKey, 'bucket_tokens', string.format('%.6f', tokens), 'bucket_at', string.format('%.3f', nowMs))
    return 'limited ' .. math.ceil((1 - tokens) / perMs)
  end
  count = math.min(count, math.floor(tokens))
  bucket = {tokens = tokens, at = nowMs}
end

-- Every record is read before anything is written: on a cluster whose slot is being moved, a
-- record already gone to the new node fails the script at its read (an outage, retried), and a
-- script that fails keeps its earlier writes: popped people would be lost.
local ids = redis.call('LRANGE', queueKey, 0, count - 1)
if #ids == 0 then
  return 'empty'
end
local records = {}
for i, id in ipairs(ids) do
  records[i] = redis.call('HMGET', recordPrefix .. id, 'state', 'line')
end
redis.call('LTRIM', queueKey, #ids, -1)

local lines = {(redis.call('HGET', metaKey, 'epoch') or '0') .. ' ' .. #ids}
local taken = {}
for i, id in ipairs(ids) do
  local record = recordPrefix .. id
  local found = records[i]
  if found[1] == 'queued' then
    redis.call('HSET', record, 'state', 'pending', 'batch', batchId, 'pos', #taken + 1)
    taken[#taken + 1] = id
    -- A damaged record (no line, or one that would split in two) still takes its one line, so
    -- the lines stay in step with the tokens; it is refused alone as malformed.
    local line = found[2]
    if not line or string.find(line, '\n', 1, true) then
      line = '\t\t\t'
    end
    lines[#lines + 1] = line
  end
end
if #taken > 0 then
  redis.call('HSET', inflightKey, batchId, now .. ':' .. table.concat(taken, ','))
end
if bucket then
  redis.call('HSET', metaKey, 'bucket_tokens', string.format('%.6f', bucket.tokens - #taken),
    'bucket_at', string.format('%.3f', bucket.at))
end
return table.concat(lines, '\n')
