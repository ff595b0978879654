-- Store the conversations a filter selects in a sorted set scored like the
-- universe. ARGV[1]: JSON {result, universe, expiry, times, sender?, any_of:
-- [[set keys, any of which]], ranges: [[sorted set, min, max]], none_of:
-- [set keys], between?: [since, until], only?: [sender ids], never?: [sender
-- ids]}. Returns how many it selected.
local spec = cjson.decode(ARGV[1])
local result, source = spec.result, spec.universe
if spec.sender then
  redis.call('DEL', result)
  local score = redis.call('ZSCORE', source, spec.sender)
  if score then redis.call('ZADD', result, score, spec.sender) end
  source = result
end
local inputs, scratch = {source}, {}
local function scratch_key()
  local key = result .. ':' .. (#scratch + 1)
  scratch[#scratch + 1] = key
  inputs[#inputs + 1] = key
  return key
end
for _, keys in ipairs(spec.any_of) do
  if #keys == 1 then inputs[#inputs + 1] = keys[1] else redis.call('SUNIONSTORE', scratch_key(), unpack(keys)) end
end
for _, range in ipairs(spec.ranges) do
  redis.call('ZRANGESTORE', scratch_key(), range[1], range[2], range[3], 'BYSCORE')
end
-- Sender ids given in the spec go into a scratch set; SADD a thousand at a
-- time, as unpack() can't spread many more. With none, the key stays empty.
local function id_set(key, ids)
  for first = 1, #ids, 1000 do redis.call('SADD', key, unpack(ids, first, math.min(first + 999, #ids))) end
  return key
end
if spec.only then id_set(scratch_key(), spec.only) end
if spec.never then
  -- Diffed, not intersected: no input, but deleted with the scratch keys.
  local key = result .. ':never'
  scratch[#scratch + 1] = key
  table.insert(spec.none_of, id_set(key, spec.never))
end
-- Only the universe's scores count: every other input is weighted 0.
local command = {'ZINTERSTORE', result, #inputs}
for _, key in ipairs(inputs) do command[#command + 1] = key end
command[#command + 1] = 'WEIGHTS'
for i = 1, #inputs do command[#command + 1] = (i == 1) and 1 or 0 end
redis.call(unpack(command))
for _, key in ipairs(spec.none_of) do redis.call('ZDIFFSTORE', result, 2, result, key) end
if spec.between then
  for _, sid in ipairs(redis.call('ZRANGE', result, 0, -1)) do
    if redis.call('ZCOUNT', spec.times .. sid, spec.between[1], spec.between[2]) == 0 then
      redis.call('ZREM', result, sid)
    end
  end
end
if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
redis.call('EXPIRE', result, spec.expiry)
return redis.call('ZCARD', result)
