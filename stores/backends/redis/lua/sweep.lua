-- Drop the indexes of conversations whose key expired. ARGV[1]: the index
-- namespace; ARGV[2]: the conversations' key prefix; ARGV[3]: at most this many.
local ns, prefix = ARGV[1], ARGV[2]
local due = redis.call('ZRANGE', ns .. 'expiring', '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, sid in ipairs(due) do
  local key = prefix .. sid
  if redis.call('EXISTS', key) == 1 then track_expiry(ns, key, sid) else drop_indexes(ns, sid) end
end
return #due
