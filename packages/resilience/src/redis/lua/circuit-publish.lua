-- circuit-publish.lua: publishes a circuit breaker transition; the latest `at` wins.
--
-- KEYS[1]  the circuit's state hash: field `at` (ms, the publisher's clock) and `state` (JSON)
-- KEYS[2]  the circuit's probe leases (sorted set), dropped by every published transition
-- ARGV[1]  at: clock time of the transition (ms since the epoch)
-- ARGV[2]  state: the SharedCircuitState as JSON
-- ARGV[3]  ttl: ms the state is kept after its last publish
--
-- Returns 1 when stored, 0 when a state with a later `at` is already stored (the publish is
-- ignored). KEYS share a hash tag, so the script also runs on Redis Cluster.

local stored_at = tonumber(redis.call('HGET', KEYS[1], 'at'))
if stored_at and stored_at > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'state', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
