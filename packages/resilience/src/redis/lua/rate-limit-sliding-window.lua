-- rate-limit-sliding-window.lua: sliding-window decisions (two-window weighted count), each one atomic.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-sliding-window.sql). Times are integer µs.
--
-- Decides #KEYS requests in order (one, or a batch of concurrent requests coalesced by the
-- client); a key may appear more than once and each decision sees the ones before it.
-- KEYS[i]          a limited key; its value is '<current window start µs> <current count> <previous count>'
-- ARGV[4i-3]       cost: units to take (1..limit)
-- ARGV[4i-2]       dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[4i-1]       limit: units per sliding window
-- ARGV[4i]         window: window length in µs
--
-- Returns a flat array, four numbers per key: allowed (1|0), remaining, retry after (µs), reset (µs).
-- The previous window's count weighs by the part of it the sliding window still covers; the
-- comparison is multiplied through by the window length. A key expires (PX) when both windows
-- have slid past.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local replies = {}

for i = 1, #KEYS do
  local base = (i - 1) * 4
  local key = KEYS[i]
  local cost = tonumber(ARGV[base + 1])
  local dry = ARGV[base + 2] == '1'
  local limit = tonumber(ARGV[base + 3])
  local window = tonumber(ARGV[base + 4])
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
  replies[base + 1] = allowed
  replies[base + 2] = remaining
  replies[base + 3] = retry
  replies[base + 4] = reset
end

return replies
