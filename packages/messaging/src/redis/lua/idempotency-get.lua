-- idempotency-get.lua: reads a record and its remaining life in one atomic step.
--
-- KEYS[1]  the record (format in idempotency-begin.lua)
--
-- Returns { value, pttl }, or nil when no live record exists.
local value = redis.call('GET', KEYS[1])
if not value then
  return nil
end
return { value, redis.call('PTTL', KEYS[1]) }
