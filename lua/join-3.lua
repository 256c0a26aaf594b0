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

  Input:
    KEYS[1] queue:{T}                  list of token ids, head first
    KEYS[2] meta:{T}                   hash: epoch, seq (last place handed out), served, and
                                       sale_starts_at (the operator's last word, over ARGV[9])
    KEYS[3] bought:{T}                 hash: user id -> tickets booked (finish-2.lua adds)
    ARGV[1] seconds a queue place lives
    ARGV[2] now in ms (the epoch of a queue that starts now)
    ARGV[3] record key prefix, reservation:{T}:
    ARGV[4] user key prefix, user:{T}: (a user's live token id)
    ARGV[5] mapping key prefix, token-ticket-type:{T}: (a token's mapping, living as long as
            its record)
    ARGV[6] batch key prefix, batch:{T}: (where a served token's hold is written)
    ARGV[7] ticket type id (the mappings' value)
    ARGV[8] the type's per_user_limit, in tickets
    ARGV[9] the sale's start in ms (0: none), as the caller's catalog has it; meta's wins
    ARGV[10] prequeue:{T}, the pre-queue (a key of the type's slot, passed like the prefixes)
    ARGV[11..] quintuples, one per join: new token id, user id, quantity, the new token itself
            (signed): the record keeps the line claim-3.lua hands to PostgreSQL
            ("<token>\t<user id>\t<quantity>\t<place>"), so serving a person costs no
            formatting or signing; and a random rank in the pre-queue (used only before the sale)

  Output (one text, a line per join in the order given; each line tab-separated, as a flat
  reply is far cheaper for the client to read; parseJoinReply in src/store/formats.ts reads it):
    kind, id, state, place, served, quantity, expires_at, queue length
    kind 'joined': a new place; expires_at is '' and queue length counts the new one (1: this
      join found the queue empty).
    kind 'existing': the live place the user already had; queue length is 0 (place is '' while
      it waits for the sale).
    kind 'prequeued': a new place in the pre-queue; state waiting_for_sale, place '', queue length 0.
    kind 'limit': this quantity would pass the user's limit; quantity is what they booked
      already, the other fields are ''.
    kind 'error': this join failed (the rest of the line says why); the others stand.
]]
local queueKey = KEYS[1]
local metaKey = KEYS[2]
local placeTtl = tonumber(ARGV[1])
local now = ARGV[2]
local recordPrefix = ARGV[3]
local userPrefix = ARGV[4]
local mappingPrefix = ARGV[5]
local batchPrefix = ARGV[6]
local ticketTypeId = ARGV[7]
local perUserLimit = tonumber(ARGV[8])
local boughtKey = KEYS[3]
local prequeueKey = ARGV[10]

--@include saleStart
--@include resolveState
--@include enqueue
--@include openPrequeue

local saleStart = saleStartOf(metaKey, ARGV[9])
local time = redis.call('TIME')
local redisNow = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local beforeSale = redisNow < saleStart
-- Before the sale a pre-queued place lives through the wait and then as long as a queue place.
local prequeueTtl = placeTtl + math.max(0, math.ceil((saleStart - redisNow) / 1000))
if not beforeSale then
  -- whoever waited for the sale goes ahead of everyone joining from now on
  openPrequeue(prequeueKey, queueKey, metaKey, recordPrefix, userPrefix, mappingPrefix, placeTtl, now)
end

-- Only settling moves 'served', so it reads the same for every join of the call.
local served = redis.call('HGET', metaKey, 'served') or '0'

local function join(id, userId, quantity, token, rank)
  local userKey = userPrefix .. userId
  local existing = redis.call('GET', userKey)
  if existing then
    local found = redis.call('HMGET', recordPrefix .. existing, 'state', 'place', 'qty', 'expires_at', 'batch', 'pos')
    local place, held = found[2], found[3]
    local state, expiresAt = resolveState(batchPrefix, found[1], found[5], found[6], found[4])
    local stillHeld = state == 'reserved' and tonumber(expiresAt) > tonumber(now)
    if existing == id and state == 'queued' then
      -- this very join ran already: a client's retry after a connection closed under it (a
      -- cluster failover) gets its own new place back, not a conflict with itself
      return table.concat({'joined', id, state, place, served, held, '', redis.call('LLEN', queueKey)}, '\t')
    end
    if state == 'waiting_for_sale' or state == 'queued' or state == 'pending' or stillHeld then
      return table.concat({'existing', existing, state, place or '', served, held, expiresAt or '', 0}, '\t')
    end
  end

  local booked = tonumber(redis.call('HGET', boughtKey, userId) or '0')
  if booked + tonumber(quantity) > perUserLimit then
    return table.concat({'limit', '', '', '', served, booked, '', 0}, '\t')
  end

  local recordKey = recordPrefix .. id
  if beforeSale then
    -- the token is kept for the line its place will get at the start
    redis.call('HSET', recordKey, 'state', 'waiting_for_sale', 'user', userId, 'qty', quantity, 'token', token)
    redis.call('EXPIRE', recordKey, prequeueTtl)
    redis.call('SET', userKey, id, 'EX', prequeueTtl)
    redis.call('SET', mappingPrefix .. id, ticketTypeId, 'EX', prequeueTtl)
    redis.call('ZADD', prequeueKey, rank, id)
    redis.call('EXPIRE', prequeueKey, prequeueTtl)
    return table.concat({'prequeued', id, 'waiting_for_sale', '', served, quantity, '', 0}, '\t')
  end

  local place, length = enqueue(queueKey, metaKey, recordKey, id, userId, quantity, token, now)
  redis.call('EXPIRE', recordKey, placeTtl)
  redis.call('SET', userKey, id, 'EX', placeTtl)
  redis.call('SET', mappingPrefix .. id, ticketTypeId, 'EX', placeTtl)
  return table.concat({'joined', id, 'queued', place, served, quantity, '', length}, '\t')
end

local answers = {}
for i = 11, #ARGV, 5 do
  -- A join that fails (a damaged record, say) fails alone; the others of the call stand.
  local ok, answer = pcall(join, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  if not ok then
    local why = type(answer) == 'table' and answer.err or tostring(answer)
    answer = 'error\t' .. string.gsub(why, '[\r\n\t]', ' ')
  end
  answers[#answers + 1] = answer
end
return table.concat(answers, '\n')
