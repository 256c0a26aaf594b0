--[[
  Give a queue place back before it is served, or leave the pre-queue before the sale starts.
  Only a queued or waiting_for_sale token can leave this way. A queued token's list entry stays
  and the processor drops it when it reaches the head (removing it from the middle of the list
  would cost O(N)); a pre-queued one leaves the pre-queue's sorted set at once, so the opening
  of the sale never sees it.

  Input:
    KEYS[1] reservation:{T}:<id>   the token's record
    ARGV[1] users:{T}, the users' live places (includes/users.lua; a key of the type's slot, passed like the prefixes)
    ARGV[2] seconds a record in a final state is kept
    ARGV[3] the token id
    ARGV[4] prequeue:{T}, the pre-queue (a key of the type's slot, passed like the prefixes)
    ARGV[5] changes:{T}, the channel live streams on every instance listen to (src/streams)

  Output:
    'released' when the place was given back, else the current state ('' when unknown)
]]
local record = KEYS[1]
local usersKey = ARGV[1]
local endedTtl = ARGV[2]
local id = ARGV[3]
local prequeueKey = ARGV[4]
local changesChannel = ARGV[5]

--@include users

local found = redis.call('HMGET', record, 'state', 'user')
local state, user = found[1], found[2]
if state ~= 'queued' and state ~= 'waiting_for_sale' then
  return state or ''
end
redis.call('ZREM', prequeueKey, id) -- a no-op for a queued token
redis.call('HSET', record, 'state', 'released')
redis.call('EXPIRE', record, endedTtl)
forgetUser(usersKey, user, id)
redis.call('PUBLISH', changesChannel, id)
return 'released'
