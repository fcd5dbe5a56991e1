-- Purchases (paid order lines) in and out of the ranking, with per-line state so a cancel
-- takes back exactly what the purchase added, whatever order the two arrive in.
-- score_lib.lua is prepended (current_epoch, contribute).
--
-- KEYS: 1 scores (zset), 2 epoch, 3 likes, 4 reviews, 5 stars, 6 paid lines, then one
--       line-state hash per operation (paymentOrderNo's): at, product, weight of the purchase;
--       refunded (minor units, Σ of all cancels); c:<cancelNo> per cancel seen; gone = 1 once
--       fully refunded
-- ARGV: 1 line-state TTL (s), 2 now (ms), 3 half-life (ms), 4 renormalise after (half-lives),
--       then per operation 6 values:
--         'buy',    productNo, at (ms), weight, '-', '-'
--         'refund', productNo, cancelNo, refunded (minor units), line amount (minor units), '-'
-- Returns how many operations changed something (0: all were repeats).
--
-- A buy counts once per line (a re-emitted confirmed event under a new eventId adds nothing),
-- and not at all if the line was fully refunded first. A refund counts once per (cancelNo,
-- line); the purchase is taken back when the line's refunds reach its amount — with the
-- purchase's own time and weight, so the subtraction is bit-identical to the addition.

local hl = tonumber(ARGV[3])
local t0 = current_epoch(KEYS[1], KEYS[2], tonumber(ARGV[2]), hl, tonumber(ARGV[4]), ARGV[2])
local counters = { KEYS[3], KEYS[4], KEYS[5], KEYS[6] }
local changed = 0
local line = 6
for base = 5, #ARGV, 6 do
  line = line + 1
  local state = KEYS[line]
  local op = ARGV[base]
  if op == 'buy' then
    if redis.call('HGET', state, 'gone') ~= '1' and redis.call('HEXISTS', state, 'at') == 0 then
      redis.call('HSET', state, 'at', ARGV[base + 2], 'product', ARGV[base + 1],
        'weight', ARGV[base + 3])
      contribute(KEYS[1], counters, t0, hl, ARGV[base + 1], ARGV[base + 3], ARGV[base + 2],
        { '0', '0', '0', '1' })
      changed = changed + 1
    end
  elseif op == 'refund' then
    if redis.call('HSETNX', state, 'c:' .. ARGV[base + 2], ARGV[base + 3]) == 1 then
      changed = changed + 1
      local refunded = redis.call('HINCRBY', state, 'refunded', ARGV[base + 3])
      if refunded >= tonumber(ARGV[base + 4]) and redis.call('HGET', state, 'gone') ~= '1' then
        redis.call('HSET', state, 'gone', '1')
        local at = redis.call('HGET', state, 'at')
        if at then
          local weight = redis.call('HGET', state, 'weight')
          contribute(KEYS[1], counters, t0, hl, redis.call('HGET', state, 'product'),
            -tonumber(weight), at, { '0', '0', '0', '-1' })
        end
      end
    end
  end
  redis.call('EXPIRE', state, ARGV[1])
end
return changed
