-- users:{T}, one hash per ticket type: user id -> the token id of their live place (I4, one
-- place per user). One hash rather than a key per user: a join writes no key for it, and
-- join-3.lua writes all of a call's users in one HSET. A user's field goes when their place
-- ends (settle-4.lua, finish-2.lua, leave-1.lua); a field whose place ended otherwise (its
-- record's TTL ran out) is harmless, as every reader checks the record's state, and goes with
-- the hash. The hash lives as long as the longest place in it: each writer that gives a
-- place a TTL keeps the hash at least that long (keepUsers).

-- The hash lives at least `seconds` more (never less than it had: a place it holds may live longer).
local function keepUsers(usersKey, seconds)
  if redis.call('TTL', usersKey) < seconds then
    redis.call('EXPIRE', usersKey, seconds)
  end
end

-- The user has no live place any more, if `id` was it (a later place of theirs stays).
local function forgetUser(usersKey, user, id)
  if user and redis.call('HGET', usersKey, user) == id then
    redis.call('HDEL', usersKey, user)
  end
end
