-- idempotency-complete-batch.lua: idempotency-complete.lua for several keys in one call, used
-- when the store batches the completes of concurrent callers.
--
-- KEYS[i]      the record of the i-th complete (format in idempotency-begin.lua)
-- ARGV[3i-2]   its lease token
-- ARGV[3i-1]   its outcome
-- ARGV[3i]     its ttl in ms
--
-- Returns one entry per key, in order: 1 when stored, 0 when the lease is no longer the
-- caller's, or an error reply for that key alone (e.g. WRONGTYPE).
local results = {}
for i = 1, #KEYS do
  local value = redis.pcall('GET', KEYS[i])
  local held = 'p' .. ARGV[3 * i - 2] .. '\n'
  if type(value) == 'table' and value.err then
    results[i] = value
  elseif value and string.sub(value, 1, #held) == held then
    local fingerprint = string.sub(value, #held + 1)
    redis.call('SET', KEYS[i], 'c' .. #fingerprint .. ':' .. fingerprint .. ARGV[3 * i - 1], 'PX', ARGV[3 * i])
    results[i] = 1
  else
    results[i] = 0
  end
end
return results
