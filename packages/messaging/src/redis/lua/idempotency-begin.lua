-- idempotency-begin.lua: acquires an idempotency key, or reports the live record holding it.
--
-- KEYS[1]  the record (hash: s = 'p' in progress | 'c' completed, f = fingerprint,
--          t = lease token, o = outcome); its Redis expiry is the lease or the ttl
-- ARGV[1]  fingerprint
-- ARGV[2]  lease token (made by the caller, unguessable)
-- ARGV[3]  lease in ms
--
-- Returns 1 when the caller acquired the key, else { s, f, t, o, pttl } of the live record.
--
-- An expired lease or outcome is gone by Redis expiry, so a crashed holder's key is taken over
-- with no extra step. One script call: one round trip, atomic with any other script on the key.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 's', 'p', 'f', ARGV[1], 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
local record = redis.call('HMGET', KEYS[1], 's', 'f', 't', 'o')
return { record[1], record[2], record[3], record[4], redis.call('PTTL', KEYS[1]) }
