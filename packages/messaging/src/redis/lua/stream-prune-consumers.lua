-- stream-prune-consumers.lua: removes consumers of a group that hold nothing and are long gone.
--
-- KEYS[1]  the stream
-- ARGV[1]  group
-- ARGV[2]  idle time in ms past which an empty consumer is removed
--
-- Returns the number of consumers removed.
-- A process that crashed leaves its consumer in the group forever; once its pending entries were
-- taken over it only clutters XINFO (and dashboards). A live consumer removed while idle is
-- re-created by its next XREADGROUP, so removing one that holds nothing is always safe.
local removed = 0
for _, fields in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for index = 1, #fields, 2 do info[fields[index]] = fields[index + 1] end
  if tonumber(info['pending']) == 0 and tonumber(info['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
