-- stream-create-group.lua: creates a consumer group of a topic's stream (and the stream).
--
-- KEYS[1]  the topic's stream
-- ARGV[1]  the group
-- ARGV[2]  where the group starts when the stream already has groups: '$' (new entries only) or '0'
--
-- Returns 1 when the group was created, 0 when it existed already.
-- The first group of a stream always starts at '0': entries published while the topic had no
-- group were held for it (capabilities.unroutable: 'held'). Checking for groups and creating one
-- in one script means two processes cannot both see "no group" and then skip those entries.
local exists = redis.call('EXISTS', KEYS[1]) == 1
local start = ARGV[2]
if not exists or #redis.call('XINFO', 'GROUPS', KEYS[1]) == 0 then
  start = '0'
end
local created = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], start, 'MKSTREAM')
if type(created) == 'table' and created.err then
  if string.sub(created.err, 1, 9) == 'BUSYGROUP' then return 0 end
  return redis.error_reply(created.err)
end
return 1
