-- The sale's start in ms (0: none) that decides, by Redis's clock, whether the sale has
-- started: `stored`, the one the operator's last change wrote to meta:{T} (field
-- sale_starts_at, written before that change answered: src/sale-start/start-in-redis.ts), else
-- `given`, the caller's reading of PostgreSQL (a catalog up to a second old), as after Redis
-- lost its data.
local function saleStartOf(stored, given)
  return tonumber(stored or given) or 0
end
