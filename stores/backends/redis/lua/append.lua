-- Append events to a conversation's value in place (or create it).
-- KEYS[1]: the conversation's key; KEYS[2]: its record. ARGV[1]: the new
-- events, JSON, joined by ", "; ARGV[2]: the start of a new value, up to the
-- event list's "["; ARGV[3]: seconds until the key expires, "0" for never.
-- Returns {1 (appended) or 2 (created), the version before, the version
-- after, expires_at}, or {0} when Python must rewrite the value: it does not
-- end with the event list (Rasa's key order), records a user, or was written
-- by another program since trackerweb last wrote or read it (its length is
-- not the record's), so that its indexes may lack events.
local key, record = KEYS[1], KEYS[2]
local length = redis.call('STRLEN', key)
local status = 1
if length == 0 then
  redis.call('SET', key, ARGV[2] .. ARGV[1] .. ']}')
  status = 2
else
  if length < 3 then return {0} end
  -- A value recording a user is rewritten by Python, which keeps the user's sorted set.
  if redis.call('GETRANGE', key, 0, 12) == '{"user_id": "' then return {0} end
  if tonumber(redis.call('HGET', record, 'len') or '-1') ~= length then return {0} end
  local tail = redis.call('GETRANGE', key, length - 3, length - 1)
  if string.sub(tail, 2, 3) ~= ']}' then return {0} end
  if ARGV[1] ~= '' then
    local separator = ', '
    if string.sub(tail, 1, 1) == '[' then separator = '' end
    redis.call('SETRANGE', key, length - 2, separator .. ARGV[1] .. ']}')
  end
end
if ARGV[3] ~= '0' then redis.call('EXPIRE', key, ARGV[3]) end
local version, previous = next_version(record)
return {status, previous, version, stamp(key, record, version)}
