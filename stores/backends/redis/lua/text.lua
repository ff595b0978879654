-- Narrow a selection (a sorted set) to the conversations whose user or bot
-- texts hold a needle: ARGV[1] the selection, ARGV[2] the index namespace,
-- ARGV[3] the needle (ASCII-lowered UTF-8), ARGV[4] the selection's expiry.
-- A needle of 3 bytes or more takes the candidates from its trigram sets
-- (SINTER starts from the smallest); a shorter one tests every conversation
-- selected. Each candidate is confirmed by a plain find in its texts: an
-- exact answer. Returns how many are left.
local selection, ns, needle = ARGV[1], ARGV[2], ARGV[3]
local candidates, selected = nil, nil
if #needle >= 3 then
  local keys, seen = {}, {}
  for i = 1, #needle - 2 do
    local trigram = string.sub(needle, i, i + 2)
    if not seen[trigram] then
      seen[trigram] = true
      keys[#keys + 1] = ns .. 'tri:' .. trigram
    end
  end
  candidates = redis.call('SINTER', unpack(keys))
else
  candidates = redis.call('ZRANGE', selection, 0, -1, 'WITHSCORES')
  selected = {}
  for i = 1, #candidates, 2 do selected[#selected + 1] = candidates[i] end
end
local kept = {}
local function keep(sid, score)
  local texts = redis.call('GET', ns .. 'text:' .. sid)
  -- A conversation without texts holds none, not even the empty needle.
  if texts and #texts > 0 and string.find(texts, needle, 1, true) then
    kept[#kept + 1] = score
    kept[#kept + 1] = sid
  end
end
if selected then
  for i = 1, #candidates, 2 do keep(candidates[i], candidates[i + 1]) end
else
  for _, sid in ipairs(candidates) do
    local score = redis.call('ZSCORE', selection, sid)
    if score then keep(sid, score) end
  end
end
redis.call('DEL', selection)
for first = 1, #kept, 1000 do
  redis.call('ZADD', selection, unpack(kept, first, math.min(first + 999, #kept)))
end
redis.call('EXPIRE', selection, ARGV[4])
return #kept / 2
