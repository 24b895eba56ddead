-- idempotency-begin-batch.lua: idempotency-begin.lua for several keys in one call, used when
-- the store batches the begins of concurrent callers.
--
-- KEYS[i]      the record of the i-th begin (format in idempotency-begin.lua)
-- ARGV[2i-1]   its in-progress value ('p' .. leaseToken .. '\n' .. fingerprint)
-- ARGV[2i]     its lease in ms
--
-- Returns one entry per key, in order: 1 when acquired, else { value, pttl }, or an error reply
-- for that key alone (e.g. WRONGTYPE when something else wrote to the key), so one bad key
-- never fails the other callers of its batch.
--
-- Keys are handled one after the other inside one atomic script, so a key named twice in a
-- batch is acquired by its first begin only, exactly as two separate calls would behave.
local results = {}
for i = 1, #KEYS do
  local set = redis.pcall('SET', KEYS[i], ARGV[2 * i - 1], 'NX', 'PX', ARGV[2 * i])
  if type(set) == 'table' and set.err then
    results[i] = set
  elseif set then
    results[i] = 1
  else
    local value = redis.pcall('GET', KEYS[i])
    if type(value) == 'table' and value.err then
      results[i] = value
    else
      results[i] = { value, redis.call('PTTL', KEYS[i]) }
    end
  end
end
return results
