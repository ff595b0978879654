-- Text search (the text index: indexes.py); text.lua and text_page.lua start
-- with these functions. `ns` is the index namespace, `needle` ASCII-lowered UTF-8.

-- The conversations in every trigram set of the needle (SINTER starts from
-- the smallest); nil for a needle under 3 bytes, which no trigram narrows.
local function trigram_candidates(ns, needle)
  if #needle < 3 then return nil end
  local keys, seen = {}, {}
  for i = 1, #needle - 2 do
    local trigram = string.sub(needle, i, i + 2)
    if not seen[trigram] then
      seen[trigram] = true
      keys[#keys + 1] = ns .. 'tri:' .. trigram
    end
  end
  return redis.call('SINTER', unpack(keys))
end

-- Whether a conversation's texts hold the needle: a plain find, exact as
-- `matching` is (the trigram sets only narrow).
local function holds_needle(ns, sid, needle)
  local texts = redis.call('GET', ns .. 'text:' .. sid)
  -- A conversation without texts holds none, not even the empty needle.
  return texts ~= false and #texts > 0 and string.find(texts, needle, 1, true) ~= nil
end

-- Calls found(sid, score) for each conversation of the selection (a sorted
-- set) whose texts hold the needle, with its score there; `whole`: the
-- selection is an order's own set, which holds every conversation with
-- texts, so a candidate's score is not looked up (nil).
local function each_match(ns, needle, selection, whole, found)
  local candidates = trigram_candidates(ns, needle)
  if not candidates then
    local selected = redis.call('ZRANGE', selection, 0, -1, 'WITHSCORES')
    for i = 1, #selected, 2 do
      if holds_needle(ns, selected[i], needle) then found(selected[i], selected[i + 1]) end
    end
    return
  end
  for _, sid in ipairs(candidates) do
    local score = nil
    if not whole then score = redis.call('ZSCORE', selection, sid) end
    if (whole or score) and holds_needle(ns, sid, needle) then found(sid, score) end
  end
end
