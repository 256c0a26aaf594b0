-- Writes a token's record as queued at `place` (a text), with the line claim-3.lua hands to
-- PostgreSQL, so serving a person costs no formatting or signing. The caller sets the
-- record's TTL and puts the token on the queue.
-- The batch line, whose format this writer owns: "<token>\t<user id>\t<quantity>\t<place>",
-- the signed token, the user id, the quantity and the place, tab-separated, one line per
-- person. grant_holds() reads it as it is; TypeScript screens it (the well-formed-line rule:
-- batch_line_well_formed() in sql/0010 and WELL_FORMED_LINE in src/store/formats.ts) and
-- reads it with parseBatchLine.
local function writeQueued(recordKey, userId, quantity, token, place)
  redis.call('HSET', recordKey, 'state', 'queued', 'user', userId, 'qty', quantity, 'place', place,
    'line', token .. '\t' .. userId .. '\t' .. quantity .. '\t' .. place)
end

-- Gives a token the next place at the back of its type's queue and writes its record as
-- queued (writeQueued); one person at a time, for the rare paths (join-3.lua places a call's
-- joins together). Returns the place.
local function enqueue(queueKey, metaKey, recordKey, id, userId, quantity, token, now)
  local place = redis.call('HINCRBY', metaKey, 'seq', 1)
  if place == 1 then
    redis.call('HSET', metaKey, 'epoch', now) -- a queue starts (or starts again after data loss)
  end
  redis.call('RPUSH', queueKey, id)
  writeQueued(recordKey, userId, quantity, token, tostring(place))
  return place
end
