-- Narrow a selection (a sorted set) to the conversations whose user or bot
-- texts hold a needle: ARGV[1] the selection, ARGV[2] the index namespace,
-- ARGV[3] the needle (ASCII-lowered UTF-8), ARGV[4] the selection's expiry.
-- A needle of 3 bytes or more takes the candidates from its trigram sets; a
-- shorter one tests every conversation selected. Each candidate is confirmed
-- in its texts: an exact answer. Returns how many are left.
local selection, ns, needle = ARGV[1], ARGV[2], ARGV[3]
local kept = {}
each_match(ns, needle, selection, false, function(sid, score)
  kept[#kept + 1] = score
  kept[#kept + 1] = sid
end)
redis.call('DEL', selection)
for first = 1, #kept, 1000 do
  redis.call('ZADD', selection, unpack(kept, first, math.min(first + 999, #kept)))
end
redis.call('EXPIRE', selection, ARGV[4])
return #kept / 2
