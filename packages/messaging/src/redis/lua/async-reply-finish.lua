-- async-reply-finish.lua: records the outcome of the current run.
--
-- KEYS[1]  the record (format in async-reply-create.lua)
-- ARGV[1]  now (ms)
-- ARGV[2]  run id: only the run that owns the record may finish it
-- ARGV[3]  'succeeded' or 'failed'
-- ARGV[4]  new expires_at (ms): results are kept until then
-- ARGV[5]  time to live for Redis (ms, > 0)
-- ARGV[6]  succeeded: the result (JSON text); failed: the error (JSON)
-- ARGV[7]  succeeded: '1' when the result is a claim check claim, else '0'
--
-- Returns 1 when recorded, 0 when the record is missing, expired, not running or owned by
-- another run (a late run whose lease was taken over never overwrites its successor).
local fields = redis.call('HMGET', KEYS[1], 'status', 'run_id', 'expires_at')
if fields[1] ~= 'running' or fields[2] ~= ARGV[2] or tonumber(fields[3]) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('HDEL', KEYS[1], 'lease_until')
if ARGV[3] == 'succeeded' then
  redis.call('HSET', KEYS[1], 'result', ARGV[6], 'result_claimed', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'error', ARGV[6])
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'finished_at', ARGV[1], 'updated_at', ARGV[1], 'expires_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
