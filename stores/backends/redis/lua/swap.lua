-- Replace or delete a conversation's value if it is still the one Python
-- read (compare and set). KEYS[1]: the conversation's key; KEYS[2]: its
-- record. ARGV[1]: the SHA1 of the value read, "" when none was stored;
-- ARGV[2]: the new value, "" to delete it; ARGV[3]: seconds until the key
-- expires, "0" for never.
-- Returns {1, the new version, expires_at}, or {0} when the value changed since.
local key, record = KEYS[1], KEYS[2]
local current = redis.call('GET', key)
local digest = ''
if current then digest = redis.sha1hex(current) end
if digest ~= ARGV[1] then return {0} end
local version = next_version(record)
if ARGV[2] == '' then
  redis.call('DEL', key, record)
  return {1, version, -1}
end
if ARGV[3] ~= '0' then redis.call('SET', key, ARGV[2], 'EX', ARGV[3]) else redis.call('SET', key, ARGV[2]) end
return {1, version, stamp(key, record, version)}
