-- circuit-acquire-probe.lua: takes one of `max` half-open probe leases of a circuit, fleet-wide.
--
-- KEYS[1]  the circuit's probe leases: a sorted set of lease ids scored by expiry (server µs)
-- ARGV[1]  max: how many unexpired leases may exist at once (halfOpenMaxCalls)
-- ARGV[2]  lease: lease length in ms
-- ARGV[3]  lease id: unique per call (instance id + counter)
--
-- Returns 1 when a lease was taken, 0 when `max` unexpired leases exist. Expiry uses the
-- server's TIME, so a crashed prober's lease lapses after `lease` ms whatever the callers'
-- clocks say; the set itself expires when its last lease does.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local lease_us = tonumber(ARGV[2]) * 1000
redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease_us), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
