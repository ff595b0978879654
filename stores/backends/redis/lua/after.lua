-- Where a page after a cursor starts in a sorted set listed by (score,
-- member); page.lua and text_page.lua start with these functions.

-- Byte order, as Redis orders members (Lua's < follows the server's locale).
local function follows(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

-- The rank of the first member after the position (score, sender id). The
-- position need not be a member (deleted, or moved since): the members tied
-- at its score are searched by halving for the first one after its sender
-- id, so a page costs the same in a tie group of millions (every
-- conversation without a fallback) as after a lone score.
local function rank_after(key, score, sender)
  local first = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local last = first + redis.call('ZCOUNT', key, score, score)
  while first < last do
    local middle = math.floor((first + last) / 2)
    if follows(redis.call('ZRANGE', key, middle, middle)[1], sender) then last = middle else first = middle + 1 end
  end
  return first
end
