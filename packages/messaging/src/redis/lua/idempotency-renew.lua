-- idempotency-renew.lua: extends an in-progress lease still held by the caller.
--
-- KEYS[1]  the record (see idempotency-begin.lua)
-- ARGV[1]  lease token
-- ARGV[2]  new lease in ms, from now
--
-- Returns 1 when extended, 0 when the lease is no longer the caller's.
local record = redis.call('HMGET', KEYS[1], 's', 't')
if record[1] ~= 'p' or record[2] ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
