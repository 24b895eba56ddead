-- stream-nack.lua: gives a delivery back to its consumer group, due again after a delay.
--
-- KEYS[1]  the stream
-- KEYS[2]  the group's delayed set (sorted set: entry id -> due time in ms on the server clock)
-- ARGV[1]  group
-- ARGV[2]  consumer giving the delivery back
-- ARGV[3]  delay in ms (0: due at once)
-- ARGV[4]  entry id
--
-- Returns 1 when the entry was scheduled, 0 when this consumer no longer owns it (it was acked,
-- or taken over after the visibility timeout: the new owner decides its fate).
-- The entry stays in the pending entries list, so it survives a crash of every consumer.
local owner = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[4], ARGV[4], 1)[1]
if not owner or owner[2] ~= ARGV[2] then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
return 1
