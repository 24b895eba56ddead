-- rate-limit-gcra.sql: one GCRA (and token bucket) decision in one statement.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the Lua
-- script (src/redis/lua/rate-limit-gcra.lua). Times are integer microseconds.
--
-- $1 key (text)   $2 cost (1..limit)   $3 dry run (boolean: decide without consuming, for peek)
-- $4 limit (burst capacity)             $5 interval (µs per unit of refill)
-- Returns one row: allowed, remaining, retry_after_us, reset_us.
--
-- A new key takes the INSERT path (a fresh bucket always has room, as cost <= limit). An existing
-- key takes the DO UPDATE path under its row lock; its time is read there, after the lock is
-- held, so concurrent deciders never apply an older time over a newer state.
--
-- OFFSET 0 keeps a step of the DO UPDATE (a LATERAL subquery whose columns are used several times)
-- from being flattened into the next: PostgreSQL would copy its expression into every use, so the
-- CASEs ran dozens of times per decision (server CPU per sliding-window decision 61 -> 33 µs).
WITH clock AS (
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now
)
INSERT INTO {{table}} AS s (key, tat, expires_at, allowed, remaining, retry_after_us, reset_us)
SELECT $1::text, fresh.tat, fresh.tat, true, ($4::bigint * $5::bigint - (fresh.tat - clock.now)) / $5::bigint, 0,
       fresh.tat - clock.now
FROM clock
CROSS JOIN LATERAL (SELECT clock.now + CASE WHEN $3::boolean THEN 0 ELSE $2::bigint * $5::bigint END AS tat) fresh
ON CONFLICT (key) DO UPDATE SET (tat, expires_at, allowed, remaining, retry_after_us, reset_us) = (
  SELECT d.tat, d.tat, d.allowed,
         floor((x.span - (d.tat - x.now))::float8 / $5::bigint)::bigint,
         CASE WHEN d.allowed THEN 0 ELSE d.new_tat - x.now - x.span END,
         d.tat - x.now
  FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now,
               $4::bigint * $5::bigint AS span) x
  CROSS JOIN LATERAL (SELECT greatest(coalesce(s.tat, x.now), x.now) AS tat0 OFFSET 0) t
  CROSS JOIN LATERAL (SELECT t.tat0 + $2::bigint * $5::bigint AS new_tat OFFSET 0) n
  CROSS JOIN LATERAL (SELECT n.new_tat - x.now <= x.span AS allowed OFFSET 0) a
  CROSS JOIN LATERAL (
    SELECT CASE WHEN a.allowed AND NOT $3::boolean THEN n.new_tat ELSE t.tat0 END AS tat, a.allowed, n.new_tat
  ) d
)
RETURNING allowed, remaining, retry_after_us, reset_us
