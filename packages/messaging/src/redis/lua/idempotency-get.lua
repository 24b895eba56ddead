-- idempotency-get.lua: reads a record and its remaining life in one atomic step.
--
-- KEYS[1]  the record (see idempotency-begin.lua)
--
-- Returns { s, f, t, o, pttl }, or nil when no live record exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
local record = redis.call('HMGET', KEYS[1], 's', 'f', 't', 'o')
return { record[1], record[2], record[3], record[4], redis.call('PTTL', KEYS[1]) }
