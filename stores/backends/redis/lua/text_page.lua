-- How many conversations of a selection have user or bot texts holding a
-- needle, and a page of them after a cursor, without storing them all.
-- ARGV[1]: the selection, a sorted set scored as the list's order: an
-- order's own set (ARGV[2] '1': it holds every indexed conversation, so every
-- conversation with texts is in it) or a query's (ARGV[2] '0').
-- ARGV[3]: the index namespace; ARGV[4]: the needle (ASCII-lowered UTF-8);
-- ARGV[5]: a scratch key, ARGV[6]: its expiry; ARGV[7]: the page's size (0:
-- only count); ARGV[8]: where it starts: 'first', 'sender' (after the sender
-- id ARGV[9], in a set whose members all score alike: sender-id order) or
-- 'score' (after the score ARGV[9] and sender id ARGV[10]).
-- Returns {how many match, sender id, ...}.
--
-- Every candidate the trigram sets leave is confirmed in its texts, so the
-- count is exact (as in text.lua). The page is then made by walking the
-- selection in order from the cursor and keeping the matches: with many
-- matches (a common phrase) that reads about size x selected / matched
-- members. The walk reads at most as many members as matched: past that
-- (few matches, or a long stretch without any), the matches are written to
-- the scratch set with their scores and the page taken from it (deleted
-- before the script ends). Storing a match costs more than reading a member,
-- so the walk given up costs less than the storing after it.
local selection, whole, ns, needle = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4]
local scratch, expiry, size, after = ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local WALK_STEP = 250

local matched, kept = {}, {}
each_match(ns, needle, selection, whole, function(sid)
  matched[sid] = true
  kept[#kept + 1] = sid
end)
if size == 0 or #kept == 0 then return {#kept} end

local function start(key)
  if after == 'sender' then return redis.call('ZLEXCOUNT', key, '-', '[' .. ARGV[9]) end
  if after == 'score' then return rank_after(key, ARGV[9], ARGV[10]) end
  return 0
end

local page = {#kept}
local rank, budget = start(selection), #kept
while budget > 0 do
  local step = math.min(WALK_STEP, budget)
  local members = redis.call('ZRANGE', selection, rank, rank + step - 1)
  for _, sid in ipairs(members) do
    if matched[sid] then
      page[#page + 1] = sid
      if #page > size then return page end
    end
  end
  -- The end of the selection: the page holds every match after the cursor.
  if #members < step then return page end
  rank, budget = rank + step, budget - step
end

page = {#kept}
local scored = {}
for _, sid in ipairs(kept) do
  local score = redis.call('ZSCORE', selection, sid)
  if score then
    scored[#scored + 1] = score
    scored[#scored + 1] = sid
  end
end
for first = 1, #scored, 1000 do
  redis.call('ZADD', scratch, unpack(scored, first, math.min(first + 999, #scored)))
end
redis.call('EXPIRE', scratch, expiry)
local first = start(scratch)
for _, sid in ipairs(redis.call('ZRANGE', scratch, first, first + size - 1)) do page[#page + 1] = sid end
redis.call('DEL', scratch)
return page
