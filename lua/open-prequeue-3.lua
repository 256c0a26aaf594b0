--[[
  Open a ticket type's pre-queue once its sale has started, for a type that nobody joins after
  its start (join-3.lua opens it itself for the first join after the start). Redis's own clock
  decides whether the sale has started, so instances with skewed clocks agree.

  Input:
    KEYS[1] prequeue:{T}   sorted set: pre-queued token id -> its random rank
    KEYS[2] queue:{T}      list of token ids, head first
    KEYS[3] meta:{T}       hash: epoch, seq, served, sale_starts_at (the operator's last word, over ARGV[4])
    ARGV[1] record key prefix, reservation:{T}:
    ARGV[2] users:{T}, the users' live places (includes/users.lua)
    ARGV[3] seconds a queue place lives
    ARGV[4] the sale's start in ms (0: none), as PostgreSQL had it; meta's wins

  Output:
    -1 when the sale has not started by Redis's clock; otherwise how many got a place (0 when
    there was no pre-queue: never made, or opened already)
]]
local prequeueKey = KEYS[1]
local queueKey = KEYS[2]
local metaKey = KEYS[3]
local recordPrefix = ARGV[1]
local usersKey = ARGV[2]
local placeTtl = tonumber(ARGV[3])

--@include saleStart
--@include users
--@include enqueue
--@include openPrequeue

local saleStart = saleStartOf(redis.call('HGET', metaKey, 'sale_starts_at'), ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now < saleStart then
  return -1
end
return openPrequeue(prequeueKey, queueKey, metaKey, recordPrefix, usersKey, placeTtl, now)
