-- Sum the rollups of the events from ARGV[2] to ARGV[3] (scores or -inf/+inf;
-- both on hour boundaries) in the index namespace ARGV[1]: the hours h with
-- since <= h < until, and the edges (events exactly at h) with since <= h <= until.
-- Returns [[field, sum, field, sum, ...], [conversations with events in
-- them, channel, n, channel, n, ...]]: each conversation once, under its
-- summary's input_channel (JSON).
local ns, since, until_ = ARGV[1], ARGV[2], ARGV[3]
local hours_until = until_ == '+inf' and '+inf' or '(' .. until_
local members = redis.call('ZRANGE', ns .. 'rollups', since, hours_until, 'BYSCORE')
for _, member in ipairs(redis.call('ZRANGE', ns .. 'rollup_edges', since, until_, 'BYSCORE')) do
  members[#members + 1] = member
end
local sums, fields = {}, {}
for _, member in ipairs(members) do
  add_hash(sums, fields, ns .. 'rollup:' .. member)
end
local reply = flat_sums(sums, fields)
local seen, active, channels, order = {}, 0, {}, {}
for _, member in ipairs(members) do
  for _, sid in ipairs(redis.call('SMEMBERS', ns .. 'rollup_senders:' .. member)) do
    if not seen[sid] then
      seen[sid] = true
      active = active + 1
      local channel = redis.call('HGET', ns .. 'summary:' .. sid, 'input_channel')
      if channel then
        if not channels[channel] then
          channels[channel] = 0
          order[#order + 1] = channel
        end
        channels[channel] = channels[channel] + 1
      end
    end
  end
end
local conversations = {active}
for _, channel in ipairs(order) do
  conversations[#conversations + 1] = channel
  conversations[#conversations + 1] = channels[channel]
end
return {reply, conversations}
