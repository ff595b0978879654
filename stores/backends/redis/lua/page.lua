-- The members after a cursor position in a sorted set listed by (score, member).
-- KEYS[1]: the sorted set. ARGV[1]: the position's score; ARGV[2]: its sender
-- id; ARGV[3]: at most this many.
local key, count = KEYS[1], tonumber(ARGV[3])
local first = rank_after(key, ARGV[1], ARGV[2])
return redis.call('ZRANGE', key, first, first + count - 1)
