-- Sum the statistics counters of the conversations ranked ARGV[3] to ARGV[4]
-- in the selection ARGV[1]; ARGV[2]: the counters' key prefix. Summing in
-- Redis sends back one small hash instead of every conversation's counters.
-- Returns [field, sum, field, sum, ...].
local sums, fields = {}, {}
for _, sid in ipairs(redis.call('ZRANGE', ARGV[1], ARGV[3], ARGV[4])) do
  local counts = redis.call('HGETALL', ARGV[2] .. sid)
  for i = 1, #counts, 2 do
    local field = counts[i]
    if not sums[field] then
      sums[field] = 0
      fields[#fields + 1] = field
    end
    sums[field] = sums[field] + tonumber(counts[i + 1])
  end
end
local reply = {}
for _, field in ipairs(fields) do
  reply[#reply + 1] = field
  reply[#reply + 1] = sums[field]
end
return reply
