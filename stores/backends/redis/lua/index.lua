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

-- The sorted sets that list conversations in each order (indexes.ORDER_SETS
-- names them per order): {set, summary field, descending}. Ascending scores
-- are the order, ties go by sender id (member order); a conversation without
-- the value scores inf, last in both directions.
local ORDER_SETS = {
  {'recent', 'last_event_time', true}, {'order:last_event_time', 'last_event_time', false},
  {'order:-first_event_time', 'first_event_time', true}, {'order:first_event_time', 'first_event_time', false},
  {'order:-events', 'events', true}, {'order:events', 'events', false},
  {'order:-user_messages', 'user_messages', true}, {'user_messages', 'user_messages', false},
  {'order:-min_confidence', 'min_confidence', true}, {'order:min_confidence', 'min_confidence', false},
  {'order:-fallbacks', 'fallbacks', true}, {'order:fallbacks', 'fallbacks', false},
}

-- A summary field's JSON text as a score, negated as text (never through a
-- Lua number, whose printing would round the time).
local function order_score(text, descending)
  if not text or text == 'null' then return 'inf' end
  if not descending then return text end
  if string.sub(text, 1, 1) == '-' then return string.sub(text, 2) end
  return '-' .. text
end

local function set_order_scores(ns, sid, summary)
  redis.call('ZADD', ns .. 'senders', 0, sid)
  for _, order in ipairs(ORDER_SETS) do
    local text = redis.call('HGET', summary, order[2])
    redis.call('ZADD', ns .. order[1], order_score(text or nil, order[3]), sid)
  end
end

local function drop_indexes(ns, sid)
  local memberships = ns .. 'memberships:' .. sid
  for _, key in ipairs(redis.call('SMEMBERS', memberships)) do redis.call('SREM', key, sid) end
  for _, name in ipairs({'senders', 'min_confidence', 'expiring'}) do
    redis.call('ZREM', ns .. name, sid)
  end
  for _, order in ipairs(ORDER_SETS) do redis.call('ZREM', ns .. order[1], sid) end
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
  if redis.call('EXISTS', ns .. 'senders') == 0 then
    -- No conversation is indexed yet: the indexes are of this version from the start.
    redis.call('SET', ns .. 'index_version', entries.version)
  end
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
  if entries.confidence then
    local lowest = redis.call('HGET', summary, 'min_confidence')
    if not lowest or tonumber(entries.confidence) < tonumber(lowest) then
      redis.call('HSET', summary, 'min_confidence', entries.confidence)
    end
    redis.call('ZADD', ns .. 'min_confidence', 'LT', entries.confidence, sid)
  end
  set_order_scores(ns, sid, summary)
  for field, n in pairs(entries.counts) do count(ns, sid, field, n) end
end
