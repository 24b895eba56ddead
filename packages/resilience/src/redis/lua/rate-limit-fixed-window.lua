-- rate-limit-fixed-window.lua: fixed-window decisions, each one atomic.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the
-- PostgreSQL statement (src/postgres/sql/rate-limit-fixed-window.sql). Times are integer µs.
--
-- Decides #KEYS requests in order (one, or a batch of concurrent requests coalesced by the
-- client); a key may appear more than once and each decision sees the ones before it.
-- KEYS[i]          a limited key; its value is '<window start µs> <count>'
-- ARGV[4i-3]       cost: units to take (1..limit)
-- ARGV[4i-2]       dry run: '1' decides without writing (peek), '0' consumes
-- ARGV[4i-1]       limit: units per window
-- ARGV[4i]         window: window length in µs (windows are aligned on the epoch)
--
-- Returns a flat array, four numbers per key: allowed (1|0), remaining, retry after (µs), reset (µs).
-- A key expires (PX) at the end of its window. A stored window later than the one computed
-- from now is kept (time never moves a key backwards).

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
  replies[base + 1] = allowed
  replies[base + 2] = limit - count
  replies[base + 3] = retry
  replies[base + 4] = reset
end

return replies
