-- stream-append.lua: appends a batch of serialized envelopes to a topic's stream, whole and in
-- order: a script runs atomically, so no other publisher's entry lands between them. One command
-- for the batch instead of a MULTI of one XADD each (which cost the client a command, its encoding
-- and a QUEUED reply per message).
--
-- KEYS[1]  the topic's stream
-- ARGV[1]  MAXLEN for approximate trimming (`MAXLEN ~`), 0 for none
-- ARGV[2]  the entry's field name
-- ARGV[3..] serialized envelopes
--
-- Returns the number of entries appended. Like a MULTI, an error stops the batch part-way (what was
-- appended stays): the publish rejects and is retried, at-least-once.
local maxLength = tonumber(ARGV[1])
for index = 3, #ARGV do
  if maxLength > 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxLength, '*', ARGV[2], ARGV[index])
  else
    redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[index])
  end
end
return #ARGV - 2
