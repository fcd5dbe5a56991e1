-- Reads the top of the ranking with its counters and the epoch in one atomic snapshot.
--
-- KEYS: 1 scores (zset), 2 epoch t0 in ms, 3 likes, 4 reviews, 5 stars, 6 paid lines
-- ARGV: 1 how many
-- Returns { epoch or '', then per product: productNo, stored score, likes, reviews, stars, paid }

local out = { redis.call('GET', KEYS[2]) or '' }
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #top == 0 then
  return out
end
local members = {}
for i = 1, #top, 2 do
  members[#members + 1] = top[i]
end
-- One HMGET per counter hash rather than one HGET per product and counter.
local counts = {}
for j = 3, 6 do
  counts[j] = redis.call('HMGET', KEYS[j], unpack(members))
end
for i, member in ipairs(members) do
  out[#out + 1] = member
  out[#out + 1] = top[2 * i]
  for j = 3, 6 do
    out[#out + 1] = counts[j][i] or '0'
  end
end
return out
