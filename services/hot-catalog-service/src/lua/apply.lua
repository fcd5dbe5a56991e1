-- Applies one event's contributions to the hot-products ranking, at most once per eventId.
-- Dedupe, epoch maintenance and every score/counter update run in this one script, so Redis
-- executes them atomically: a redelivery or replay of the same event changes nothing, and a
-- crash cannot leave an event half-applied. score_lib.lua is prepended (current_epoch,
-- contribute).
--
-- KEYS: 1 seen marker of this event, 2 scores (zset), 3 epoch t0 in ms,
--       4 likes, 5 reviews, 6 stars, 7 paid lines (hashes: productNo -> count)
-- ARGV: 1 seen TTL (s), 2 now (ms), 3 half-life (ms), 4 renormalise after (half-lives),
--       then per contribution 7 values: productNo, weight, at (ms), dLikes, dReviews, dStars, dPaid
-- Returns 1 when applied, 0 for a duplicate.

if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end

local hl = tonumber(ARGV[3])
local t0 = current_epoch(KEYS[2], KEYS[3], tonumber(ARGV[2]), hl, tonumber(ARGV[4]), ARGV[2])
local counters = { KEYS[4], KEYS[5], KEYS[6], KEYS[7] }
for base = 5, #ARGV, 7 do
  contribute(KEYS[2], counters, t0, hl, ARGV[base], ARGV[base + 1], ARGV[base + 2],
    { ARGV[base + 3], ARGV[base + 4], ARGV[base + 5], ARGV[base + 6] })
end
return 1
