-- The sale has started: everyone in the pre-queue (prequeue:{T}, a sorted set scored with a
-- random rank each when they joined) gets a place at the back of the queue, in rank order, so
-- arrival order inside the pre-queue counts for nothing. Then the pre-queue is deleted. All of
-- it runs inside the calling script, so it happens once, whole: a second call finds no
-- pre-queue. Nothing in the loop may raise (Redis keeps a failed script's earlier writes, and
-- a rerun would place people twice): a damaged record is read safely and placed with what it
-- has, so its line is malformed and the grant refuses that one person as invalid.
-- Needs `users` and `enqueue` included before it. Returns how many were placed (a token that left the
-- pre-queue, or whose record is gone, is not).
local function openPrequeue(prequeueKey, queueKey, metaKey, recordPrefix, usersKey, placeTtl, now)
  local ids = redis.call('ZRANGE', prequeueKey, 0, -1)
  if #ids == 0 then
    return 0
  end
  local placed = 0
  for _, id in ipairs(ids) do
    local recordKey = recordPrefix .. id
    local ok, found = pcall(redis.call, 'HMGET', recordKey, 'state', 'user', 'qty', 'token')
    local state = ok and found[1]
    if state == 'waiting_for_sale' then
      local userId = found[2] or ''
      enqueue(queueKey, metaKey, recordKey, id, userId, found[3] or '', found[4] or '', now)
      redis.call('HDEL', recordKey, 'token') -- the line has it now
      -- from now on the place lives as long as any queue place
      redis.call('EXPIRE', recordKey, placeTtl)
      placed = placed + 1
    end
  end
  keepUsers(usersKey, placeTtl)
  redis.call('DEL', prequeueKey)
  return placed
end
