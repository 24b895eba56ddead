-- idempotency-renew.lua: extends an in-progress lease still held by the caller.
--
-- KEYS[1]  the record (format in idempotency-begin.lua)
-- ARGV[1]  lease token
-- ARGV[2]  new lease in ms, from now
--
-- Returns 1 when extended, 0 when the lease is no longer the caller's.
local value = redis.call('GET', KEYS[1])
local held = 'p' .. ARGV[1] .. '\n'
if not value or string.sub(value, 1, #held) ~= held then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
