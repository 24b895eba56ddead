-- idempotency-complete.lua: stores the outcome of a key if the caller's lease still holds it.
--
-- KEYS[1]  the record (format in idempotency-begin.lua)
-- ARGV[1]  lease token
-- ARGV[2]  outcome
-- ARGV[3]  ttl in ms of the completed record
--
-- Returns 1 when stored, 0 when the lease is no longer the caller's (expired, taken over,
-- released or completed already): a late holder never overwrites its successor's outcome.
local value = redis.call('GET', KEYS[1])
local held = 'p' .. ARGV[1] .. '\n'
if not value or string.sub(value, 1, #held) ~= held then
  return 0
end
local fingerprint = string.sub(value, #held + 1)
redis.call('SET', KEYS[1], 'c' .. #fingerprint .. ':' .. fingerprint .. ARGV[2], 'PX', ARGV[3])
return 1
