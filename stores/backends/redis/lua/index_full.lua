-- Index a conversation whole as Python read it at a version (snapshot.lua,
-- swap.lua), or drop its indexes when it is gone. ARGV[1]: the index
-- namespace; ARGV[2]: the sender id; ARGV[3]: the version; ARGV[4]:
-- expires_at (record.lua); ARGV[5]: "1" stored, "0" gone; ARGV[6], ARGV[7]:
-- `index_entries` of all its events.
-- Indexes of a later version stay. Returns 1 when applied.
local ns, sid = ARGV[1], ARGV[2]
local indexed, version = indexed_version(ns, sid), tonumber(ARGV[3])
if indexed > version then return 0 end
if indexed == version then
  if ARGV[5] == '1' then track_expiry(ns, sid, ARGV[4]) end
  return 0
end
drop_indexes(ns, sid)
if ARGV[5] == '1' then
  if ARGV[6] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[6]), ARGV[7]) end
  track_expiry(ns, sid, ARGV[4])
end
set_version(ns, sid, ARGV[3], ARGV[5] == '1')
return 1
