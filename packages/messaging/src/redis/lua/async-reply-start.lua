-- async-reply-start.lua: starts a run of an operation (compare-and-set).
--
-- KEYS[1]  the record (format in async-reply-create.lua)
-- ARGV[1]  now (ms)
-- ARGV[2]  run id of the new run
-- ARGV[3]  lease_until (ms): until then no other run may take the operation
--
-- Returns the record's fields (HGETALL) when the run started: the record was pending, or running
-- under a lease that ran out (its worker died). Returns nil when it is missing, expired,
-- finished or running under a live lease. Being one script, of concurrent starts exactly one wins.
local fields = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'lease_until')
local status = fields[1]
local now = tonumber(ARGV[1])
if not status or tonumber(fields[2]) <= now then
  return nil
end
if status == 'pending' or (status == 'running' and tonumber(fields[3] or '0') <= now) then
  redis.call('HSET', KEYS[1], 'status', 'running', 'run_id', ARGV[2], 'lease_until', ARGV[3],
    'started_at', ARGV[1], 'updated_at', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  return redis.call('HGETALL', KEYS[1])
end
return nil
