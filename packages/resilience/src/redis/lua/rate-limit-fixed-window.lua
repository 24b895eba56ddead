-- rate-limit-fixed-window.lua: one fixed-window decision, atomically.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-fixed-window.sql). Times are integer µs.
--
-- KEYS[1]  the limited key; its value is '<window start µs> <count>'
-- ARGV[1]  cost: units to take (1..limit)
-- ARGV[2]  dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[3]  limit: units per window
-- ARGV[4]  window: window length in µs (windows are aligned on the epoch)
--
-- Returns { allowed (1|0), remaining, retry after (µs), reset (µs) }.
-- The key expires (PX) at the end of its window. A stored window later than the one computed
-- from now is kept (time never moves a key backwards).

local key = KEYS[1]
local cost = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local start = now - (now % window)
local count = 0

local stored = redis.call('GET', key)
if stored then
  local stored_start, stored_count = string.match(stored, '^(%d+) (%d+)$')
  stored_start = tonumber(stored_start)
  if stored_start and stored_start >= start then
    start = stored_start
    count = tonumber(stored_count)
  end
end

local allowed = 0
local retry = 0
if count + cost <= limit then
  allowed = 1
  if not dry then
    count = count + cost
    redis.call('SET', key, string.format('%.0f %.0f', start, count), 'PX', math.ceil((start + window - now) / 1000))
  end
else
  retry = start + window - now
end

local reset = 0
if count > 0 then reset = start + window - now end
return { allowed, limit - count, retry, reset }
