-- idempotency-complete.lua: stores the outcome of a key if the caller's lease still holds it.
--
-- KEYS[1]  the record (see idempotency-begin.lua)
-- ARGV[1]  lease token
-- ARGV[2]  outcome
-- ARGV[3]  ttl in ms of the completed record
--
-- Returns 1 when stored, 0 when the lease is no longer the caller's (expired, taken over,
-- released or completed already): a late holder never overwrites its successor's outcome.
local record = redis.call('HMGET', KEYS[1], 's', 't')
if record[1] ~= 'p' or record[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 's', 'c', 'o', ARGV[2])
redis.call('HDEL', KEYS[1], 't')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
