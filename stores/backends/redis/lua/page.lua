-- The members after a cursor position in a sorted set listed by (score, member).
-- KEYS[1]: the sorted set. ARGV[1]: the position's score; ARGV[2]: its sender
-- id; ARGV[3]: at most this many.
-- Returns {how many the set holds, member, ...}: one script, as a Redis
-- Cluster runs no script inside a pipeline.
local key, count = KEYS[1], tonumber(ARGV[3])
local first = rank_after(key, ARGV[1], ARGV[2])
local reply = redis.call('ZRANGE', key, first, first + count - 1)
table.insert(reply, 1, redis.call('ZCARD', key))
return reply
