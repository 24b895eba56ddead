-- idempotency-release.lua: drops an in-progress lease so the key may be tried again.
--
-- KEYS[1]  the record (see idempotency-begin.lua)
-- ARGV[1]  lease token
--
-- Returns 1 when released, 0 when the lease is no longer the caller's.
local record = redis.call('HMGET', KEYS[1], 's', 't')
if record[1] ~= 'p' or record[2] ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
