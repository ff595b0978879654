-- Functions of the scripts that write or read a conversation's value (Python
-- prepends this file to append.lua, snapshot.lua and swap.lua). They run in
-- the conversation's hash slot: KEYS[1] is Rasa's key, KEYS[2] its record
-- (slots.record_key), a hash {v: version, len: the value's length when
-- trackerweb last wrote or read it}. The indexes, in another slot, are
-- brought to a version by index_delta.lua or index_full.lua.
local function now_us()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000000 + tonumber(time[2])
end

-- A version after the record's and after every version handed out before
-- this moment (the clock): a conversation deleted, record and all, and then
-- written again versions after its former self. After `floor` too, when
-- given (snapshot.lua). Returns it and the previous.
local function next_version(record, floor)
  local previous = tonumber(redis.call('HGET', record, 'v') or '0')
  return math.max(previous + 1, now_us(), (floor or 0) + 1), previous
end

-- When the value expires, in ms since the epoch; -1 for never.
local function expires_at(key)
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then return math.floor(now_us() / 1000) + ttl end
  return -1
end

-- After a write: the record holds the value's new version and length, and
-- expires with the value. Returns `expires_at`.
local function stamp(key, record, version)
  redis.call('HSET', record, 'v', string.format('%.0f', version), 'len', redis.call('STRLEN', key))
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then redis.call('PEXPIRE', record, ttl) else redis.call('PERSIST', record) end
  return expires_at(key)
end
