--[[
  Join the queue of one ticket type, or find the live place the user already has there, for
  each of many joins in turn (those that reached one service together: one call costs Redis
  and the client far less than one each). A place is live while its token is queued, pending
  (being served) or reserved. A join sees the joins before it: a user joining twice in one
  call gets the first place back.

  A join whose user has already booked so many tickets of the type that this quantity would
  pass the per-user limit is refused here, early; PostgreSQL decides for sure when it grants
  (it still knows after Redis lost its data).

  Input:
    KEYS[1] queue:{T}                  list of token ids, head first
    KEYS[2] meta:{T}                   hash: epoch, seq (last place handed out), served
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
    ARGV[9..] quadruples, one per join: new token id, user id, quantity, the new token itself
            (signed): the record keeps the line claim-3.lua hands to PostgreSQL
            ("<token>\t<user id>\t<quantity>\t<place>"), so serving a person costs no
            formatting or signing

  Output (one text, a line per join in the order given; each line tab-separated, as a flat
  reply is far cheaper for the client to read):
    kind, id, state, place, served, quantity, expires_at, queue length
    kind 'joined': a new place; expires_at is '' and queue length counts the new one (1: this
      join found the queue empty).
    kind 'existing': the live place the user already had; queue length is 0.
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

--@include resolveState

-- Only settling moves 'served', so it reads the same for every join of the call.
local served = redis.call('HGET', metaKey, 'served') or '0'

local function join(id, userId, quantity, token)
  local userKey = userPrefix .. userId
  local existing = redis.call('GET', userKey)
  if existing then
    local found = redis.call('HMGET', recordPrefix .. existing, 'state', 'place', 'qty', 'expires_at', 'batch', 'pos')
    local place, held = found[2], found[3]
    local state, expiresAt = resolveState(batchPrefix, found[1], found[5], found[6], found[4])
    local stillHeld = state == 'reserved' and tonumber(expiresAt) > tonumber(now)
    if state == 'queued' or state == 'pending' or stillHeld then
      return table.concat({'existing', existing, state, place, served, held, expiresAt or '', 0}, '\t')
    end
  end

  local booked = tonumber(redis.call('HGET', boughtKey, userId) or '0')
  if booked + tonumber(quantity) > perUserLimit then
    return table.concat({'limit', '', '', '', served, booked, '', 0}, '\t')
  end

  local place = redis.call('HINCRBY', metaKey, 'seq', 1)
  if place == 1 then
    redis.call('HSET', metaKey, 'epoch', now) -- a queue starts (or starts again after data loss)
  end
  local length = redis.call('RPUSH', queueKey, id)
  local recordKey = recordPrefix .. id
  redis.call('HSET', recordKey, 'state', 'queued', 'user', userId, 'qty', quantity, 'place', place,
    'line', token .. '\t' .. userId .. '\t' .. quantity .. '\t' .. place)
  redis.call('EXPIRE', recordKey, placeTtl)
  redis.call('SET', userKey, id, 'EX', placeTtl)
  redis.call('SET', mappingPrefix .. id, ticketTypeId, 'EX', placeTtl)
  return table.concat({'joined', id, 'queued', place, served, quantity, '', length}, '\t')
end

local answers = {}
for i = 9, #ARGV, 4 do
  -- A join that fails (a damaged record, say) fails alone; the others of the call stand.
  local ok, answer = pcall(join, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  if not ok then
    local why = type(answer) == 'table' and answer.err or tostring(answer)
    answer = 'error\t' .. string.gsub(why, '[\r\n\t]', ' ')
  end
  answers[#answers + 1] = answer
end
return table.concat(answers, '\n')
