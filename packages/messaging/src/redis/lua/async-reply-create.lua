-- async-reply-create.lua: records a new pending operation unless a live one has its id.
--
-- KEYS[1]  the record: a hash with kind, status, created_at, updated_at, expires_at, attempts and,
--          once started, run_id, lease_until, started_at, then finished_at with result and
--          result_claimed ('1'/'0') or error (JSON). Times are ms on the caller's clock.
-- ARGV[1]  now (ms)
-- ARGV[2]  kind
-- ARGV[3]  expires_at (ms)
-- ARGV[4]  time to live for Redis (ms, > 0): expires_at - now, so Redis reclaims the key itself
--
-- Returns 1 when created, 0 when a record with this id is still live.
local expires = redis.call('HGET', KEYS[1], 'expires_at')
if expires and tonumber(expires) > tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'status', 'pending', 'created_at', ARGV[1], 'updated_at', ARGV[1],
  'expires_at', ARGV[3], 'attempts', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
