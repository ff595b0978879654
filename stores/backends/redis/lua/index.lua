-- Functions the scripts that keep the indexes share (Python prepends this
-- file to append.lua, replace.lua, delete.lua and sweep.lua).
-- `ns` is the index namespace, `sid` the sender id.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function track_expiry(ns, key, sid)
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    redis.call('ZADD', ns .. 'expiring', now_ms() + ttl, sid)
  else
    redis.call('ZREM', ns .. 'expiring', sid)
  end
end

-- Adds n to a statistics counter of the conversation and to the totals. A
-- counter at 0 goes: a name nothing counts leaves statistics and distinct names.
local function count(ns, sid, field, n)
  for _, key in ipairs({ns .. 'counts:' .. sid, ns .. 'totals'}) do
    if redis.call('HINCRBY', key, field, n) <= 0 then redis.call('HDEL', key, field) end
  end
end

local function drop_indexes(ns, sid)
  local memberships = ns .. 'memberships:' .. sid
  for _, key in ipairs(redis.call('SMEMBERS', memberships)) do redis.call('SREM', key, sid) end
  for _, name in ipairs({'recent', 'senders', 'user_messages', 'min_confidence', 'expiring'}) do
    redis.call('ZREM', ns .. name, sid)
  end
  local fields = redis.call('HGETALL', ns .. 'counts:' .. sid)
  for i = 1, #fields, 2 do count(ns, sid, fields[i], -tonumber(fields[i + 1])) end
  redis.call('DEL', memberships, ns .. 'summary:' .. sid, ns .. 'times:' .. sid)
end

-- A conversation counts once, under the input channel of its latest user message.
local function channel_counter(channel_json)
  local channel = channel_json and cjson.decode(channel_json)
  if type(channel) == 'string' then return 'c:' .. channel end
end

local function move_channel(ns, sid, previous_json, latest_json)
  local previous, latest = channel_counter(previous_json), channel_counter(latest_json)
  if previous == latest then return end
  if previous then count(ns, sid, previous, -1) end
  if latest then count(ns, sid, latest, 1) end
end

local function add_indexes(ns, sid, entries)
  local memberships = ns .. 'memberships:' .. sid
  for _, key in ipairs(entries.sets) do
    redis.call('SADD', key, sid)
    redis.call('SADD', memberships, key)
  end
  for _, time in ipairs(entries.times) do redis.call('ZADD', ns .. 'times:' .. sid, time, time) end
  local summary = ns .. 'summary:' .. sid
  redis.call('HSETNX', summary, 'first_event_time', entries.first)
  redis.call('HSET', summary, 'last_event_time', entries.last)
  for field, n in pairs(entries.summary_counts) do redis.call('HINCRBY', summary, field, n) end
  if entries.latest then
    move_channel(ns, sid, redis.call('HGET', summary, 'input_channel'), entries.latest[2])
    redis.call('HSET', summary, 'latest_intent', entries.latest[1], 'input_channel', entries.latest[2])
  end
  redis.call('ZADD', ns .. 'recent', entries.recency, sid)
  redis.call('ZADD', ns .. 'senders', 0, sid)
  redis.call('ZINCRBY', ns .. 'user_messages', entries.summary_counts.user_messages, sid)
  if entries.confidence then redis.call('ZADD', ns .. 'min_confidence', 'LT', entries.confidence, sid) end
  for field, n in pairs(entries.counts) do count(ns, sid, field, n) end
end
