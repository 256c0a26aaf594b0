--[[
  Take, renew or give up the lease that lets one processor at a time serve a ticket type.
  A live holder renews it; a dead one loses it when it lapses.

  Input:
    KEYS[1] lease:{T}
    ARGV[1] the caller's name
    ARGV[2] lease length in ms; 0 gives the lease up

  Output:
    1 when the caller holds the lease afterwards, else 0
]]
local leaseKey = KEYS[1]
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])

local holder = redis.call('GET', leaseKey)
if ttl == 0 then
  if holder == owner then
    redis.call('DEL', leaseKey)
  end
  return 0
end
if holder == owner then
  redis.call('PEXPIRE', leaseKey, ttl)
  return 1
end
if not holder then
  redis.call('SET', leaseKey, owner, 'PX', ttl)
  return 1
end
return 0
