-- Functions the scripts that keep the indexes share (Python prepends this
-- file to index_delta.lua, index_full.lua and sweep.lua). They run in the
-- slot of the store's index namespace `ns`; `sid` is the sender id.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- `at`: when the conversation's key expires (ms since the epoch, as text), "-1" for never.
local function track_expiry(ns, sid, at)
  if at ~= '-1' then
    redis.call('ZADD', ns .. 'expiring', at, sid)
  else
    redis.call('ZREM', ns .. 'expiring', sid)
  end
end

-- The version of the conversation its indexes show (record.lua): `versions`
-- holds it while it is stored; for a while after it is gone, a tombstone
-- named by a digest of its id (never the id: a deletion may be a privacy
-- request) keeps an indexer that read it earlier from bringing it back.
local TOMBSTONE_SECONDS = 600

local function tombstone(ns, sid)
  return ns .. 'gone:' .. redis.sha1hex(sid)
end

local function indexed_version(ns, sid)
  return tonumber(redis.call('HGET', ns .. 'versions', sid) or redis.call('GET', tombstone(ns, sid)) or '0')
end

local function set_version(ns, sid, version, stored)
  if stored then
    redis.call('HSET', ns .. 'versions', sid, version)
    redis.call('DEL', tombstone(ns, sid))
  else
    redis.call('HDEL', ns .. 'versions', sid)
    redis.call('SET', tombstone(ns, sid), version, 'EX', TOMBSTONE_SECONDS)
  end
end

-- The totals keep the chart's counters per hour and per day apart from the
-- rest: statistics without a filter read one bucket's, never the other's.
local function totals_key(ns, field)
  local prefix = string.match(field, '^(%a+):')
  if prefix == 'h' or prefix == 'hu' then return ns .. 'totals:hour' end
  if prefix == 'd' or prefix == 'du' then return ns .. 'totals:day' end
  return ns .. 'totals'
end

-- Adds n to a statistics counter of the conversation and to the totals. A
-- counter at 0 goes: a name nothing counts leaves statistics and distinct names.
local function count(ns, sid, field, n)
  for _, key in ipairs({ns .. 'counts:' .. sid, totals_key(ns, field)}) do
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

-- The rollups (indexes.py): an hour's counters, the conversations with events
-- in it, and the sorted set listing it.
-- '=' starts an edge member (events exactly at the hour, or at an infinite time).
local function rollup_list(ns, member)
  if string.sub(member, 1, 1) == '=' then return ns .. 'rollup_edges' end
  return ns .. 'rollups'
end

local function add_rollups(ns, sid, rollups)
  local rolled = ns .. 'rolled:' .. sid
  for _, rollup in ipairs(rollups) do
    local member, hash = rollup[1], ns .. 'rollup:' .. rollup[1]
    redis.call('ZADD', rollup_list(ns, member), rollup[2], member)
    redis.call('SADD', ns .. 'rollup_senders:' .. member, sid)
    for field, n in pairs(rollup[3]) do
      redis.call('HINCRBY', hash, field, n)
      redis.call('HINCRBY', rolled, member .. '|' .. field, n)
    end
  end
end

local function drop_rollups(ns, sid)
  local rolled = ns .. 'rolled:' .. sid
  local fields = redis.call('HGETALL', rolled)
  local touched = {}
  for i = 1, #fields, 2 do
    local bar = string.find(fields[i], '|', 1, true)
    local member, field = string.sub(fields[i], 1, bar - 1), string.sub(fields[i], bar + 1)
    local hash = ns .. 'rollup:' .. member
    if redis.call('HINCRBY', hash, field, -tonumber(fields[i + 1])) <= 0 then redis.call('HDEL', hash, field) end
    touched[member] = true
  end
  for member in pairs(touched) do
    redis.call('SREM', ns .. 'rollup_senders:' .. member, sid)
    -- An hour nothing counts any more leaves its sorted set.
    if redis.call('EXISTS', ns .. 'rollup:' .. member) == 0 then redis.call('ZREM', rollup_list(ns, member), member) end
  end
  redis.call('DEL', rolled)
end

-- The text index (indexes.py): each distinct byte trigram of some lowered
-- texts (0xFF-led, as in `text:<id>`), none across two texts.
local function trigrams(texts)
  local found, list = {}, {}
  for i = 1, #texts - 2 do
    local trigram = string.sub(texts, i, i + 2)
    if not found[trigram] and not string.find(trigram, '\255', 1, true) then
      found[trigram] = true
      list[#list + 1] = trigram
    end
  end
  return list
end

local function add_texts(ns, sid, texts)
  if texts == '' then return end
  local key = ns .. 'text:' .. sid
  -- No trigram spans the stored texts and these: a 0xFF byte leads each text.
  redis.call('APPEND', key, texts)
  for _, trigram in ipairs(trigrams(texts)) do redis.call('SADD', ns .. 'tri:' .. trigram, sid) end
end

local function drop_texts(ns, sid)
  local key = ns .. 'text:' .. sid
  local texts = redis.call('GET', key)
  if not texts then return end
  for _, trigram in ipairs(trigrams(texts)) do redis.call('SREM', ns .. 'tri:' .. trigram, sid) end
  redis.call('DEL', key)
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
  drop_rollups(ns, sid)
  drop_texts(ns, sid)
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

-- `texts`: the lowered texts of the new events (indexes.lowered_texts).
local function add_indexes(ns, sid, entries, texts)
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
  add_rollups(ns, sid, entries.rollups)
  add_texts(ns, sid, texts)
end
