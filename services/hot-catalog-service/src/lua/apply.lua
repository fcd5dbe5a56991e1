-- Applies one event's contributions to the hot-products ranking, at most once per eventId.
-- Dedupe, epoch maintenance and every score/counter update run in this one script, so Redis
-- executes them atomically: a redelivery or replay of the same event changes nothing, and a
-- crash cannot leave an event half-applied.
--
-- KEYS: 1 seen marker of this event, 2 scores (zset), 3 epoch t0 in ms,
--       4 likes, 5 reviews, 6 stars, 7 paid lines (hashes: productNo -> count)
-- ARGV: 1 seen TTL (s), 2 now (ms), 3 half-life (ms), 4 renormalise after (half-lives),
--       then per contribution 7 values: productNo, weight, at (ms), dLikes, dReviews, dStars, dPaid
-- Returns 1 when applied, 0 for a duplicate.

if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end

local now = tonumber(ARGV[2])
local hl = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local t0 = tonumber(redis.call('GET', KEYS[3]) or '')
if t0 == nil then
  t0 = now
  redis.call('SET', KEYS[3], ARGV[2])
elseif now - t0 > limit * hl then
  -- Move t0 forward by whole half-lives and scale every stored value by the same power of
  -- two (exact in binary floating point), keeping exponents far from the f64 limit.
  local k = math.floor((now - t0) / hl)
  local factor = 2 ^ (-k)
  local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do
    redis.call('ZADD', KEYS[2], tonumber(all[i + 1]) * factor, all[i])
  end
  t0 = t0 + k * hl
  redis.call('SET', KEYS[3], string.format('%.0f', t0))
end

local counters = { KEYS[4], KEYS[5], KEYS[6], KEYS[7] }
for base = 5, #ARGV, 7 do
  local member = ARGV[base]
  local amount = tonumber(ARGV[base + 1]) * 2 ^ ((tonumber(ARGV[base + 2]) - t0) / hl)
  redis.call('ZINCRBY', KEYS[2], amount, member)
  local all_zero = true
  for j = 1, 4 do
    local delta = ARGV[base + 2 + j]
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
    redis.call('ZREM', KEYS[2], member)
    for j = 1, 4 do
      redis.call('HDEL', counters[j], member)
    end
  end
end
return 1
