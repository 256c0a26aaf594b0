-- Gives a token the next place at the back of its type's queue and writes its record as
-- queued, with the line claim-3.lua hands to PostgreSQL ("<token>\t<user id>\t<quantity>\t<place>"),
-- so serving a person costs no formatting or signing. The caller sets the record's TTL.
-- Returns the place and the queue's length with the token in it.
local function enqueue(queueKey, metaKey, recordKey, id, userId, quantity, token, now)
  local place = redis.call('HINCRBY', metaKey, 'seq', 1)
  if place == 1 then
    redis.call('HSET', metaKey, 'epoch', now) -- a queue starts (or starts again after data loss)
  end
  local length = redis.call('RPUSH', queueKey, id)
  redis.call('HSET', recordKey, 'state', 'queued', 'user', userId, 'qty', quantity, 'place', place,
    'line', token .. '\t' .. userId .. '\t' .. quantity .. '\t' .. place)
  return place, length
end
