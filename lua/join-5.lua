--[[
  Join the queue of one ticket type, or find the live place this user already has there.
  A place is live while its token is queued, pending (being served) or reserved.

  Input:
    KEYS[1] queue:{T}                  list of token ids, head first
    KEYS[2] meta:{T}                   hash: epoch, seq (last place handed out), served
    KEYS[3] user:{T}:<user id>         the user's live token id
    KEYS[4] reservation:{T}:<new id>   record of the new token
    KEYS[5] token-ticket-type:{T}:<new id>  its token mapping, living as long as the record
    ARGV[1] new token id
    ARGV[2] user id
    ARGV[3] quantity
    ARGV[4] seconds a queue place lives
    ARGV[5] record key prefix, reservation:{T}:
    ARGV[6] now in ms (the epoch of a queue that starts now)
    ARGV[7] the new token itself (signed): the record keeps the line claim-3.lua hands to
            PostgreSQL ("<token>\t<user id>\t<quantity>\t<place>"), so serving a person
            costs no formatting or signing
    ARGV[8] batch key prefix, batch:{T}: (where a served token's hold is written)
    ARGV[9] ticket type id (the mapping's value)

  Output (one tab-separated text: a flat reply is far cheaper for the client to read):
    kind, id, state, place, served, quantity, expires_at, queue length
    kind 'joined': a new place; expires_at is '' and queue length counts the new one.
    kind 'existing': the live place the user already had; queue length is 0.
]]
local queueKey = KEYS[1]
local metaKey = KEYS[2]
local userKey = KEYS[3]
local recordKey = KEYS[4]
local mappingKey = KEYS[5]
local id = ARGV[1]
local userId = ARGV[2]
local quantity = ARGV[3]
local placeTtl = tonumber(ARGV[4])
local recordPrefix = ARGV[5]
local now = ARGV[6]
local token = ARGV[7]
local batchPrefix = ARGV[8]
local ticketTypeId = ARGV[9]

--@include resolveState

local existing = redis.call('GET', userKey)
if existing then
  local found = redis.call('HMGET', recordPrefix .. existing, 'state', 'place', 'qty', 'expires_at', 'batch', 'pos')
  local place, held = found[2], found[3]
  local state, expiresAt = resolveState(batchPrefix, found[1], found[5], found[6], found[4])
  local stillHeld = state == 'reserved' and tonumber(expiresAt) > tonumber(now)
  if state == 'queued' or state == 'pending' or stillHeld then
    local served = redis.call('HGET', metaKey, 'served') or '0'
    return table.concat({'existing', existing, state, place, served, held, expiresAt or '', 0}, '\t')
  end
end

local place = redis.call('HINCRBY', metaKey, 'seq', 1)
if place == 1 then
  redis.call('HSET', metaKey, 'epoch', now) -- a queue starts (or starts again after data loss)
end
local served = redis.call('HGET', metaKey, 'served') or '0'
local length = redis.call('RPUSH', queueKey, id)
redis.call('HSET', recordKey, 'state', 'queued', 'user', userId, 'qty', quantity, 'place', place,
  'line', token .. '\t' .. userId .. '\t' .. quantity .. '\t' .. place)
redis.call('EXPIRE', recordKey, placeTtl)
redis.call('SET', userKey, id, 'EX', placeTtl)
redis.call('SET', mappingKey, ticketTypeId, 'EX', placeTtl)
return table.concat({'joined', id, 'queued', place, served, quantity, '', length}, '\t')
