-- idempotency-begin-batch.lua: idempotency-begin.lua for several keys in one call, used when
-- the store batches the begins that concurrent callers issue in the same tick.
--
-- KEYS[i]      the record of the i-th begin (format in idempotency-begin.lua)
-- ARGV[i]      its in-progress value ('p' .. leaseToken .. '\n' .. fingerprint)
-- ARGV[#KEYS + 1]  lease in ms (the same for the whole batch)
--
-- Returns one entry per key, in order: 1 when acquired, else { value, pttl }, or an error reply
-- for that key alone (e.g. WRONGTYPE when something else wrote to the key), so one bad key
-- never fails the other callers of its batch.
--
-- Keys are handled one after the other inside one atomic script, so a key named twice in a
-- batch is acquired by its first begin only, exactly as two separate calls would behave.
local lease = ARGV[#KEYS + 1]
local results = {}
for i = 1, #KEYS do
  local set = redis.pcall('SET', KEYS[i], ARGV[i], 'NX', 'PX', lease)
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
