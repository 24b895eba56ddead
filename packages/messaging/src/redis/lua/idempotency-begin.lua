-- idempotency-begin.lua: acquires an idempotency key, or reports the live record holding it.
--
-- A record is one string key whose Redis expiry is its lease or its ttl:
--   in progress:  'p' .. leaseToken .. '\n' .. fingerprint
--   completed:    'c' .. byteLength(fingerprint) .. ':' .. fingerprint .. outcome
-- (lease tokens never contain '\n'). An expired lease or outcome is gone by Redis expiry, so a
-- crashed holder's key is taken over with no extra step.
--
-- KEYS[1]  the record
-- ARGV[1]  the in-progress value to write ('p' .. leaseToken .. '\n' .. fingerprint)
-- ARGV[2]  lease in ms
--
-- Returns 1 when the caller acquired the key, else { value, pttl } of the live record.
-- One SET NX in the common case: as cheap as a bare lock, one round trip, atomic.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }
