-- stream-claim.lua: hands one consumer the deliveries of a consumer group that are due again.
--
-- KEYS[1]  the stream
-- KEYS[2]  the group's delayed set (sorted set: entry id -> due time in ms on the server clock)
-- KEYS[3]  the topic's scheduled set (messages published with a delay, see stream-schedule.lua)
-- ARGV[1]  group
-- ARGV[2]  consumer taking the deliveries
-- ARGV[3]  visibility timeout in ms (an entry idle that long is presumed abandoned)
-- ARGV[4]  most entries to hand out
-- ARGV[5]  XAUTOCLAIM cursor ('0-0' to start a new scan)
-- ARGV[6]  MAXLEN for appended entries ('0': no trimming)
--
-- Returns { nextCursor, { id, fields, deliveryCount }, ... }.
--
-- Messages published with a delay that are now due are appended to the stream first (by whichever
-- subscriber of the topic runs this first; the move is atomic, so each is appended once).
-- Nacked entries stay in the pending entries list (PEL) while they wait in the delayed set, so a
-- crash never loses them. First the entries whose delay is over are claimed; then XAUTOCLAIM
-- takes entries idle past the visibility timeout (a consumer died or hung), skipping those still
-- waiting out a nack delay. XAUTOCLAIM runs with JUSTID, which does not count a delivery; the
-- XCLAIM that follows for each entry handed out does, so XPENDING's count is the delivery count.
-- Server TIME is used so that instances with skewed clocks agree on what is due.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stream, delayed, group, consumer = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local budget = tonumber(ARGV[4])
local result = { ARGV[5] }

local scheduled = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, message in ipairs(scheduled) do
  if ARGV[6] ~= '0' then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[6], '*', 'envelope', message)
  else
    redis.call('XADD', stream, '*', 'envelope', message)
  end
  redis.call('ZREM', KEYS[3], message)
end

local function deliver(id)
  local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id)
  local entry = claimed[1]
  if not entry or not entry[2] then
    -- Trimmed or deleted from the stream: nothing left to deliver.
    redis.call('XACK', stream, group, id)
    return
  end
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  local count = 1
  if pending[1] then count = pending[1][4] end
  result[#result + 1] = { entry[1], entry[2], count }
  budget = budget - 1
end

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, budget)
for _, id in ipairs(due) do
  redis.call('ZREM', delayed, id)
  -- Acked while it waited (e.g. by a consumer that had it before a takeover): nothing to do.
  if redis.call('XPENDING', stream, group, id, id, 1)[1] then deliver(id) end
end

if budget > 0 then
  local scan = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[3], ARGV[5], 'COUNT', budget, 'JUSTID')
  result[1] = scan[1]
  for _, id in ipairs(scan[2]) do
    local dueAt = redis.call('ZSCORE', delayed, id)
    if not dueAt then
      deliver(id)
    elseif tonumber(dueAt) <= now then
      redis.call('ZREM', delayed, id)
      deliver(id)
    end
    -- Otherwise it is still waiting out its nack delay; the delayed set decides when it is due.
  end
end
return result
