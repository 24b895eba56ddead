-- stream-ack.lua: acks deliveries that this consumer still owns.
--
-- KEYS[1]  the stream
-- ARGV[1]  group
-- ARGV[2]  consumer acking
-- ARGV[3..] entry ids
--
-- Returns the number of entries acked. An entry taken over by another consumer (this one
-- outlived the visibility timeout) is left to its new owner: a late ack must not cancel a
-- redelivery that is under way, nor one the new owner may still nack.
local owned = { 'XACK', KEYS[1], ARGV[1] }
for index = 3, #ARGV do
  local id = ARGV[index]
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if entry and entry[2] == ARGV[2] then owned[#owned + 1] = id end
end
if #owned == 3 then return 0 end
return redis.call(unpack(owned))
