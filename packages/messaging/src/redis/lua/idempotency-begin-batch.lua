-- idempotency-begin-batch.lua: idempotency-begin.lua for several keys in one call, used when
-- the store batches the begins that concurrent callers issue in the same tick.
--
-- KEYS[i]      the record of the i-th begin (format in idempotency-begin.lua)
-- ARGV[i]      its in-progress value ('p' .. leaseToken .. '\n' .. fingerprint)
-- ARGV[#KEYS + 1]  lease in ms (the same for the whole batch)
--
-- Returns one entry per key, in order: 1 when acquired, else { value, pttl }.
--
-- Keys are handled one after the other inside one atomic script, so a key named twice in a
-- batch is acquired by its first begin only, exactly as two separate calls would behave.
local lease = ARGV[#KEYS + 1]
local results = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[i], 'NX', 'PX', lease) then
    results[i] = 1
  else
    results[i] = { redis.call('GET', KEYS[i]), redis.call('PTTL', KEYS[i]) }
  end
end
return results
