-- Index the events an append added (append.lua), on top of the indexes of
-- the version it extended. ARGV[1]: the index namespace; ARGV[2]: the sender
-- id; ARGV[3]: "2" the append created the conversation, "1" it extended it;
-- ARGV[4]: the version before the append; ARGV[5]: the version after;
-- ARGV[6]: expires_at (record.lua); ARGV[7], ARGV[8]: `index_entries` of the
-- new events (the entries JSON, the lowered texts).
-- Returns 1 when the indexes now show that version or a later one, 0 when
-- they show neither it nor the one it extended (an append or a write they
-- missed): then Python indexes the conversation whole.
local ns, sid = ARGV[1], ARGV[2]
local indexed, version = indexed_version(ns, sid), tonumber(ARGV[5])
if indexed >= version then return 1 end
if ARGV[3] == '2' then
  -- Indexes left by a conversation someone else deleted must not count here.
  drop_indexes(ns, sid)
elseif indexed ~= tonumber(ARGV[4]) then
  return 0
end
if ARGV[7] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[7]), ARGV[8]) end
set_version(ns, sid, ARGV[5], true)
track_expiry(ns, sid, ARGV[6])
return 1
