--[[
  Join the queue of one ticket type, or find the live place the user already has there, for
  each of many joins in turn (those that reached one service together: one call costs Redis
  and the client far less than one each). A place is live while its token is queued, pending
  (being served) or reserved. A join sees the joins before it: a user joining twice in one
  call gets the first place back.

  A join whose token id already is the user's live place (the same call again: a client
  retries a command whose connection closed, as ioredis' Cluster does in a failover) answers
  'joined' with that place, so a join may be repeated safely.

  A join whose user has already booked so many tickets of the type that this quantity would
  pass the per-user limit is refused here, early; PostgreSQL decides for sure when it grants
  (it still knows after Redis lost its data).

  A sale that has not started by Redis's own clock (so instances with skewed clocks agree)
  puts new joiners in its pre-queue, waiting_for_sale: no place yet, a random rank each in
  prequeue:{T}. The first call after the start opens the pre-queue before its own joins
  (openPrequeue): every pre-queued person gets a place, in rank order, ahead of them.

  What costs Redis is paid once a call where it can be (a join in calls of 20 cost Redis about
  12 µs, 24 before; bench/join-script.ts measures it, docs/performance.md has the figures): the users' live places, their tallies and the meta fields are
  read in one command each; the queue gets the call's tokens in one RPUSH, users:{T} their
  live places in one HSET, and the place counter moves once. Per join there is the record
  (HSET + EXPIRE), the one key a join makes.
  A number turned into text costs Lua or Redis about a microsecond: each place is turned
  once, and the records' expiry is one absolute time for the call (PEXPIREAT, which Redis also
  needs no rewriting to replicate, where EXPIRE is rewritten as one).

  Input:
    KEYS[1] queue:{T}                  list of token ids, head first
    KEYS[2] meta:{T}                   hash: epoch, seq (last place handed out), served, and
                                       sale_starts_at (the operator's last word, over ARGV[7])
    KEYS[3] bought:{T}                 hash: user id -> tickets booked (finish-2.lua adds)
    ARGV[1] seconds a queue place lives
    ARGV[2] now in ms (the epoch of a queue that starts now)
    ARGV[3] record key prefix, reservation:{T}:
    ARGV[4] users:{T}, hash: user id -> their live token id (includes/users.lua; a key of the
            type's slot, passed like the prefixes)
    ARGV[5] batch key prefix, batch:{T}: (where a served token's hold is written)
    ARGV[6] the type's per_user_limit, in tickets
    ARGV[7] the sale's start in ms (0: none), as the caller's catalog has it; meta's wins
    ARGV[8] prequeue:{T}, the pre-queue (a key of the type's slot, passed like the prefixes)
    ARGV[9..] quintuples, one per join: new token id, user id, quantity, the new token itself
            (signed): the record keeps the line claim-3.lua hands to PostgreSQL
            ("<token>\t<user id>\t<quantity>\t<place>"), so serving a person costs no
            formatting or signing; and a random rank in the pre-queue (used only before the sale)

  Output (one text: the served mark, then a line per join in the order given, each
  tab-separated, as a flat reply is far cheaper for the client to read and the client knows
  what it sent; parseJoinReplies in src/store/formats.ts reads it):
    'joined', place, found empty ('1': the queue was empty before this join, else '0')
    'existing', id, state, place ('' while it waits for the sale), quantity, expires_at ('' for none)
      the live place the user already had
    'prequeued'            a new place in the pre-queue (waiting_for_sale, no place yet)
    'limit', booked        this quantity would pass the user's limit; booked is what they
                           booked already
    'error', why           this join failed; the others stand
]]
local queueKey = KEYS[1]
local metaKey = KEYS[2]
local boughtKey = KEYS[3]
local placeTtl = tonumber(ARGV[1])
local now = ARGV[2]
local recordPrefix = ARGV[3]
local usersKey = ARGV[4]
local batchPrefix = ARGV[5]
local perUserLimit = tonumber(ARGV[6])
local prequeueKey = ARGV[8]
local FIRST = 9 -- the first join's first argument
local WIDTH = 5 -- arguments per join

--@include saleStart
--@include resolveState
--@include users
--@include enqueue
--@include openPrequeue

-- Read once for the call: only settling moves 'served'; 'seq' moves here alone (below) and in
-- openPrequeue, which says how many it placed.
local meta = redis.call('HMGET', metaKey, 'sale_starts_at', 'served', 'seq')
local saleStart = saleStartOf(meta[1], ARGV[7])
local time = redis.call('TIME')
local redisNow = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local beforeSale = redisNow < saleStart
-- Before the sale a pre-queued place lives through the wait and then as long as a queue place.
local prequeueTtl = placeTtl + math.max(0, math.ceil((saleStart - redisNow) / 1000))
local placeEnds = tostring(redisNow + placeTtl * 1000) -- in ms, for PEXPIREAT
local served = meta[2] or '0'
local seqText = meta[3]
-- whoever waited for the sale goes ahead of everyone joining from now on
if not beforeSale and openPrequeue(prequeueKey, queueKey, metaKey, recordPrefix, usersKey, placeTtl, now) > 0 then
  seqText = redis.call('HGET', metaKey, 'seq')
end
local seq = tonumber(seqText or '0')
if not seq then
  return redis.error_reply('meta seq is not a number')
end
local firstPlace = seq + 1
local lengthBefore = redis.call('LLEN', queueKey)
local queued = {} -- token ids placed by this call, for one RPUSH
local placed = {} -- user id, token id, ... of this call's new places, for one HSET

-- `command` (with `key` first, if any) over all of `values`, in slices (Lua's unpack stops near
-- 8000 values); the replies of a reading command, joined in order.
local function inSlices(command, key, values)
  if #values <= 1000 then -- every call the join batcher makes
    return key and redis.call(command, key, unpack(values)) or redis.call(command, unpack(values))
  end
  local replies = {}
  for first = 1, #values, 1000 do
    local slice = {unpack(values, first, math.min(#values, first + 999))}
    local reply = key and redis.call(command, key, unpack(slice)) or redis.call(command, unpack(slice))
    if type(reply) == 'table' then
      for _, value in ipairs(reply) do
        replies[#replies + 1] = value
      end
    end
  end
  return replies
end

-- Every user's live place and tally, in one command each (a join sees the joins before it
-- through placedNow). A users:{T} that is no hash fails the call here, before any write.
local userIds = {}
for i = FIRST, #ARGV, WIDTH do
  userIds[#userIds + 1] = ARGV[i + 1]
end
if #userIds == 0 then
  return served
end
local liveIds = inSlices('HMGET', usersKey, userIds)
local boughtOk, bought = pcall(inSlices, 'HMGET', boughtKey, userIds)
local placedNow = {}

local function join(n, id, userId, quantity, token, rank)
  local existing = placedNow[userId] or liveIds[n]
  if existing then
    local found = redis.call('HMGET', recordPrefix .. existing, 'state', 'place', 'qty', 'expires_at', 'batch', 'pos')
    local place, held = found[2], found[3]
    local state, expiresAt = resolveState(batchPrefix, found[1], found[5], found[6], found[4])
    local stillHeld = state == 'reserved' and tonumber(expiresAt) > tonumber(now)
    if existing == id and state == 'queued' then
      -- this very join ran already: a client's retry after a connection closed under it (a
      -- cluster failover) gets its own new place back, not a conflict with itself
      return 'joined\t' .. place .. (redis.call('LLEN', queueKey) == 1 and '\t1' or '\t0')
    end
    if state == 'waiting_for_sale' or state == 'queued' or state == 'pending' or stillHeld then
      return 'existing\t' .. existing .. '\t' .. state .. '\t' .. (place or '') .. '\t' .. (held or '') .. '\t' .. (expiresAt or '')
    end
  end

  if not boughtOk then
    error(bought) -- the tally could not be read: every join that needs it fails alone
  end
  local booked = bought[n] or '0'
  if tonumber(booked) + tonumber(quantity) > perUserLimit then
    return 'limit\t' .. booked
  end

  local recordKey = recordPrefix .. id
  if beforeSale then
    -- the token is kept for the line its place will get at the start
    redis.call('HSET', recordKey, 'state', 'waiting_for_sale', 'user', userId, 'qty', quantity, 'token', token)
    redis.call('EXPIRE', recordKey, prequeueTtl)
    redis.call('ZADD', prequeueKey, rank, id)
    redis.call('EXPIRE', prequeueKey, prequeueTtl)
    placedNow[userId] = id
    placed[#placed + 1] = userId
    placed[#placed + 1] = id
    return 'prequeued'
  end

  local place = tostring(seq + 1)
  writeQueued(recordKey, userId, quantity, token, place)
  -- the place is taken once its record is written: nothing below raises
  seq = seq + 1
  queued[#queued + 1] = id
  redis.call('PEXPIREAT', recordKey, placeEnds)
  placedNow[userId] = id
  placed[#placed + 1] = userId
  placed[#placed + 1] = id
  return 'joined\t' .. place .. ((lengthBefore == 0 and #queued == 1) and '\t1' or '\t0')
end

local answers = {served}
local n = 0
for i = FIRST, #ARGV, WIDTH do
  n = n + 1
  -- A join that fails (a damaged record, say) fails alone; the others of the call stand.
  local ok, answer = pcall(join, n, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  if not ok then
    local why = type(answer) == 'table' and answer.err or tostring(answer)
    answer = 'error\t' .. string.gsub(why, '[\r\n\t]', ' ')
  end
  answers[#answers + 1] = answer
end

if #placed > 0 then
  inSlices('HSET', usersKey, placed) -- slices of 1000 values: whole pairs
  keepUsers(usersKey, beforeSale and prequeueTtl or placeTtl)
end
if #queued > 0 then
  inSlices('RPUSH', queueKey, queued)
  if firstPlace == 1 then
    redis.call('HSET', metaKey, 'seq', seq, 'epoch', now) -- a queue starts (or starts again after data loss)
  else
    redis.call('HSET', metaKey, 'seq', seq)
  end
end
return table.concat(answers, '\n')
