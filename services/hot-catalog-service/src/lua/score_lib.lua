-- Shared by apply.lua and purchases.lua: ranking.rs prepends this file to each, so both
-- scripts move the epoch and update scores and counters in exactly the same way (Redis cannot
-- call one script from another).

-- The epoch t0 in ms, set on first use and moved forward by whole half-lives once it is more
-- than `limit` half-lives behind `now`, scaling every stored value by the same power of two
-- (exact in binary floating point), keeping exponents far from the f64 limit.
local function current_epoch(scores, epoch, now, hl, limit, now_arg)
  local t0 = tonumber(redis.call('GET', epoch) or '')
  if t0 == nil then
    redis.call('SET', epoch, now_arg)
    return now
  end
  if now - t0 > limit * hl then
    local k = math.floor((now - t0) / hl)
    local factor = 2 ^ (-k)
    local all = redis.call('ZRANGE', scores, 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      redis.call('ZADD', scores, tonumber(all[i + 1]) * factor, all[i])
    end
    t0 = t0 + k * hl
    redis.call('SET', epoch, string.format('%.0f', t0))
  end
  return t0
end

-- Adds `weight` made at `at` (ms) to `member`'s score and the counter deltas (strings, one per
-- counter hash in `counters`: likes, reviews, stars, paid lines).
local function contribute(scores, counters, t0, hl, member, weight, at, deltas)
  local amount = tonumber(weight) * 2 ^ ((tonumber(at) - t0) / hl)
  redis.call('ZINCRBY', scores, amount, member)
  local all_zero = true
  for j = 1, #counters do
    local delta = deltas[j]
    local count
    if delta == '0' then
      -- Untouched counters are read, not incremented, so no zero fields pile up.
      count = tonumber(redis.call('HGET', counters[j], member) or '0')
    else
      count = redis.call('HINCRBY', counters[j], member, delta)
    end
    if count ~= 0 then
      all_zero = false
    end
  end
  if all_zero then
    -- Every contribution was taken back: drop the product and the rounding residue of its
    -- score, so it does not linger at ~1e-16 below products that still have activity.
    redis.call('ZREM', scores, member)
    for j = 1, #counters do
      redis.call('HDEL', counters[j], member)
    end
  end
end
