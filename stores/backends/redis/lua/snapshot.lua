-- A conversation's value and its version, to index it whole or rewrite it.
-- KEYS[1]: the conversation's key; KEYS[2]: its record. A value another
-- program wrote since trackerweb last wrote or read it (its length is not
-- the record's) gets a new version here: indexes made from this read then
-- count as later than any made before it.
-- Returns {value or nil (none stored), version, expires_at}.
local key, record = KEYS[1], KEYS[2]
local value = redis.call('GET', key)
if not value then
  redis.call('DEL', record)
  return {false, now_us(), -1}
end
local version = tonumber(redis.call('HGET', record, 'v') or '0')
if tonumber(redis.call('HGET', record, 'len') or '-1') ~= string.len(value) then
  version = next_version(record)
  return {value, version, stamp(key, record, version)}
end
return {value, version, expires_at(key)}
