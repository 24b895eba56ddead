-- idempotency-release.lua: drops an in-progress lease so the key may be tried again.
--
-- KEYS[1]  the record (format in idempotency-begin.lua)
-- ARGV[1]  lease token
--
-- Returns 1 when released, 0 when the lease is no longer the caller's.
local value = redis.call('GET', KEYS[1])
local held = 'p' .. ARGV[1] .. '\n'
if not value or string.sub(value, 1, #held) ~= held then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
