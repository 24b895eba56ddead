-- rate-limit-gcra.lua: GCRA (and token bucket) decisions, each one atomic.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-gcra.sql). Times are integer microseconds.
--
-- Decides #KEYS requests in order (one, or a batch of concurrent requests coalesced by the
-- client); a key may appear more than once and each decision sees the ones before it.
-- KEYS[i]          a limited key; its value is the theoretical arrival time (TAT), µs since the epoch
-- ARGV[4i-3]       cost: units to take (1..limit)
-- ARGV[4i-2]       dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[4i-1]       limit: the burst capacity
-- ARGV[4i]         interval: µs per unit of refill (emission interval)
--
-- Returns a flat array, four numbers per key: allowed (1|0), remaining, retry after (µs), reset (µs).
-- A key expires (PX) when it is back to the full limit, so idle keys leave no state behind.
-- Time is the server's (TIME, read once per call), so callers with skewed clocks agree.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local replies = {}

for i = 1, #KEYS do
  local base = (i - 1) * 4
  local key = KEYS[i]
  local cost = tonumber(ARGV[base + 1])
  local dry = ARGV[base + 2] == '1'
  local limit = tonumber(ARGV[base + 3])
  local interval = tonumber(ARGV[base + 4])
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

  replies[base + 1] = allowed
  replies[base + 2] = math.floor((span - (tat - now)) / interval)
  replies[base + 3] = retry
  replies[base + 4] = tat - now
end

return replies
