-- The members after a cursor position in a sorted set listed by (score, member).
-- KEYS[1]: the sorted set. ARGV[1]: the position's score; ARGV[2]: its sender
-- id; ARGV[3]: at most this many. The position need not be a member (deleted,
-- or moved since): the members tied at its score are searched by halving for
-- the first one after its sender id, so a page costs the same in a tie group
-- of millions (every conversation without a fallback) as after a lone score.
local key, score, sender, count = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])

-- Byte order, as Redis orders members (Lua's < follows the server's locale).
local function follows(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

local first = redis.call('ZCOUNT', key, '-inf', '(' .. score)
local last = first + redis.call('ZCOUNT', key, score, score)
while first < last do
  local middle = math.floor((first + last) / 2)
  if follows(redis.call('ZRANGE', key, middle, middle)[1], sender) then last = middle else first = middle + 1 end
end
return redis.call('ZRANGE', key, first, first + count - 1)
