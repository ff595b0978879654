-- Sum the statistics counters of the conversations ranked ARGV[3] to ARGV[4]
-- in the selection ARGV[1]; ARGV[2]: the counters' key prefix. Summing in
-- Redis sends back one small hash instead of every conversation's counters.
-- Returns [field, sum, field, sum, ...].
local sums, fields = {}, {}
for _, sid in ipairs(redis.call('ZRANGE', ARGV[1], ARGV[3], ARGV[4])) do
  add_hash(sums, fields, ARGV[2] .. sid)
end
return flat_sums(sums, fields)
