-- rate-limit-gcra.lua: one GCRA (and token bucket) decision, atomically.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-gcra.sql). Times are integer microseconds.
--
-- KEYS[1]  the limited key; its value is the theoretical arrival time (TAT), in µs since the epoch
-- ARGV[1]  cost: units to take (1..limit)
-- ARGV[2]  dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[3]  limit: the burst capacity
-- ARGV[4]  interval: µs per unit of refill (emission interval)
--
-- Returns { allowed (1|0), remaining, retry after (µs), reset (µs) }.
-- The key expires (PX) when it is back to the full limit, so idle keys leave no state behind.
-- Time is the server's (TIME), so callers with skewed clocks agree.

local key = KEYS[1]
local cost = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local limit = tonumber(ARGV[3])
local interval = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local span = limit * interval

local tat = tonumber(redis.call('GET', key)) or now
if tat < now then tat = now end
local new_tat = tat + cost * interval

local allowed = 0
local retry = 0
if new_tat - now <= span then
  allowed = 1
  if not dry then
    tat = new_tat
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
else
  retry = new_tat - now - span
end

return { allowed, math.floor((span - (tat - now)) / interval), retry, tat - now }
