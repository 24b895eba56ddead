-- rate-limit-sliding-window.lua: one sliding-window decision (two-window weighted count), atomically.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-sliding-window.sql). Times are integer µs.
--
-- KEYS[1]  the limited key; its value is '<current window start µs> <current count> <previous count>'
-- ARGV[1]  cost: units to take (1..limit)
-- ARGV[2]  dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[3]  limit: units per sliding window
-- ARGV[4]  window: window length in µs
--
-- Returns { allowed (1|0), remaining, retry after (µs), reset (µs) }.
-- The previous window's count weighs by the part of it the sliding window still covers; the
-- comparison is multiplied through by the window length. The key expires (PX) when both
-- windows have slid past.

local key = KEYS[1]
local cost = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local start = now - (now % window)
local current = 0
local previous = 0

local stored = redis.call('GET', key)
if stored then
  local stored_start, stored_current, stored_previous = string.match(stored, '^(%d+) (%d+) (%d+)$')
  stored_start = tonumber(stored_start)
  if stored_start and stored_start >= start then
    start = stored_start
    current = tonumber(stored_current)
    previous = tonumber(stored_previous)
  elseif stored_start == start - window then
    previous = tonumber(stored_current)
  end
end

local elapsed = 0
if now > start then elapsed = now - start end
local weight = window - elapsed

local allowed = 0
local retry = 0
if previous * weight + (current + cost) * window <= limit * window then
  allowed = 1
  if not dry then
    current = current + cost
    redis.call('SET', key, string.format('%.0f %.0f %.0f', start, current, previous),
      'PX', math.ceil((start + 2 * window - now) / 1000))
  end
else
  local headroom = limit - current - cost
  if headroom >= 0 then
    retry = math.ceil(window - (headroom * window) / previous) - elapsed
  else
    retry = window - elapsed + math.max(0, math.ceil(window - ((limit - cost) * window) / current))
  end
end

local remaining = math.floor((limit * window - previous * weight - current * window) / window)
if remaining < 0 then remaining = 0 end
local reset = 0
if current > 0 then
  reset = start + 2 * window - now
elseif previous > 0 then
  reset = start + window - now
end
return { allowed, remaining, retry, reset }
