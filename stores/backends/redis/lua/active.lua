-- Of the conversations ranked ARGV[4] to ARGV[5] in sender-id order, those
-- with an event from ARGV[2] to ARGV[3] (namespace ARGV[1]): how many, and
-- how many per channel (the summary's input_channel, JSON).
-- Returns [count, channel, n, channel, n, ...].
local ns, since, until_ = ARGV[1], ARGV[2], ARGV[3]
local active, channels, order = 0, {}, {}
for _, sid in ipairs(redis.call('ZRANGE', ns .. 'senders', ARGV[4], ARGV[5])) do
  if redis.call('ZCOUNT', ns .. 'times:' .. sid, since, until_) > 0 then
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
local reply = {active}
for _, channel in ipairs(order) do
  reply[#reply + 1] = channel
  reply[#reply + 1] = channels[channel]
end
return reply
