-- Index a whole conversation anew. KEYS[1]: its key. ARGV[1]: a new value to
-- write ("" keeps the stored one). ARGV[2]: seconds until the key expires,
-- "0" for never (with a new value). ARGV[3]: the index namespace; ARGV[4]: the
-- sender id; ARGV[5], ARGV[6]: `index_entries` of all its events (entries JSON, lowered texts).
local ns, sid = ARGV[3], ARGV[4]
drop_indexes(ns, sid)
if ARGV[1] ~= '' then
  if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
end
if ARGV[5] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[5]), ARGV[6]) end
track_expiry(ns, KEYS[1], sid)
return 1
