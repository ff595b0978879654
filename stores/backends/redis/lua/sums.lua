-- Summing hashes of counters, for the scripts that add up statistics (sum_counts, rollup_sum).
local function add_hash(sums, fields, key)
  local counts = redis.call('HGETALL', key)
  for i = 1, #counts, 2 do
    local field = counts[i]
    if not sums[field] then
      sums[field] = 0
      fields[#fields + 1] = field
    end
    sums[field] = sums[field] + tonumber(counts[i + 1])
  end
end

-- [field, sum, field, sum, ...] in the order the fields were first met.
local function flat_sums(sums, fields)
  local reply = {}
  for _, field in ipairs(fields) do
    reply[#reply + 1] = field
    reply[#reply + 1] = sums[field]
  end
  return reply
end
