-- stream-schedule.lua: holds messages published with a delay until they are due.
--
-- KEYS[1]  the topic's scheduled set (sorted set: serialized envelope -> due time in ms, server clock)
-- ARGV[1]  delay in ms
-- ARGV[2..] serialized envelopes
--
-- Returns the number of messages scheduled. stream-claim.lua appends due ones to the stream.
-- The server clock is used so that every instance agrees on when a message is due.
local time = redis.call('TIME')
local dueAt = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[1])
for index = 2, #ARGV do
  redis.call('ZADD', KEYS[1], dueAt, ARGV[index])
end
return #ARGV - 1
