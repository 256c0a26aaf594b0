-- The state of a token as readers see it. settle-4.lua writes a batch's holds once, in
-- batch:{T}:<batch id> ("<deadline>:<codes>:<ids>"); a token of that batch stays 'pending'
-- in its record, with its batch and position, and holds when its code there is 'R', until
-- its own deadline (a recovered hold) or the batch's.
-- Returns the state and the hold deadline in ms (false when it holds nothing).
local function resolveState(batchPrefix, state, batch, position, expiresAt)
  if state ~= 'pending' or not batch then
    return state, expiresAt
  end
  local outcome = redis.call('GET', batchPrefix .. batch)
  if not outcome then
    return state, expiresAt
  end
  local colon = string.find(outcome, ':', 1, true)
  local at = colon + tonumber(position)
  if string.sub(outcome, at, at) ~= 'R' then
    return state, expiresAt
  end
  return 'reserved', expiresAt or string.sub(outcome, 1, colon - 1)
end
