-- A conversation's value and its version, to index it whole or rewrite it.
-- KEYS[1]: the conversation's key; KEYS[2]: its record. ARGV[1]: the version
-- its indexes show, "0" for none. A value another program wrote since
-- trackerweb last wrote or read it (its length is not the record's) gets a
-- new version here: indexes made from this read then count as later than
-- any made before it. So does a value whose record is behind its indexes:
-- it lost writes they show (a failover promoted a replica that lacked them,
-- or the clock of the node now holding it is behind), and the indexes must
-- follow what is stored now, not keep what was lost.
-- Returns {value or nil (none stored), version, expires_at}.
local key, record = KEYS[1], KEYS[2]
local indexed = tonumber(ARGV[1])
local value = redis.call('GET', key)
if not value then
  redis.call('DEL', record)
  return {false, math.max(now_us(), indexed + 1), -1}
end
local version = tonumber(redis.call('HGET', record, 'v') or '0')
if tonumber(redis.call('HGET', record, 'len') or '-1') ~= string.len(value) or version < indexed then
  version = next_version(record, indexed)
  return {value, version, stamp(key, record, version)}
end
return {value, version, expires_at(key)}
