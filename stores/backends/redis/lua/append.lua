-- Append events to a conversation in place, and index them.
-- KEYS[1]: the conversation's key. ARGV[1]: the new events, JSON, joined by ", ".
-- ARGV[2]: the start of a new value, up to the event list's "[".
-- ARGV[3]: seconds until the key expires, "0" for never.
-- ARGV[4]: the index namespace; ARGV[5]: the sender id; ARGV[6], ARGV[7]: `index_entries` of the new events
-- (the entries JSON, the lowered texts).
-- Returns 1 after appending in place, 2 after creating the key, 0 when the
-- value does not end with the event list (Rasa's key order), records a user
-- or holds events that were never indexed: Python rewrites it and indexes all its events.
local ns, sid = ARGV[4], ARGV[5]
local length = redis.call('STRLEN', KEYS[1])
if length == 0 then
  redis.call('SET', KEYS[1], ARGV[2] .. ARGV[1] .. ']}')
  if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  -- Indexes left by a conversation someone else deleted must not count here.
  drop_indexes(ns, sid)
  if ARGV[6] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[6]), ARGV[7]) end
  track_expiry(ns, KEYS[1], sid)
  return 2
end
if length < 3 then return 0 end
-- A value recording a user is rewritten by Python, which keeps the user's sorted set (scored by expiry).
if redis.call('GETRANGE', KEYS[1], 0, 12) == '{"user_id": "' then return 0 end
local tail = redis.call('GETRANGE', KEYS[1], length - 3, length - 1)
if string.sub(tail, 2, 3) ~= ']}' then return 0 end
local has_events = string.sub(tail, 1, 1) ~= '['
if has_events and redis.call('EXISTS', ns .. 'summary:' .. sid) == 0 then return 0 end
if ARGV[1] ~= '' then
  local separator = ', '
  if not has_events then separator = '' end
  redis.call('SETRANGE', KEYS[1], length - 2, separator .. ARGV[1] .. ']}')
  add_indexes(ns, sid, cjson.decode(ARGV[6]), ARGV[7])
end
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
track_expiry(ns, KEYS[1], sid)
return 1
