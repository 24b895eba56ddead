-- rate-limit-fixed-window.sql: one fixed-window decision in one statement.
-- The same math as the memory store (src/rate-limit/memory-rate-limit-store.ts) and the Lua
-- script (src/redis/lua/rate-limit-fixed-window.lua). Times are integer microseconds; windows are
-- aligned on the epoch. A stored window later than the one computed from now is kept.
--
-- $1 key (text)   $2 cost (1..limit)   $3 dry run (boolean: decide without consuming, for peek)
-- $4 limit (units per window)           $5 window (µs)
-- Returns one row: allowed, remaining, retry_after_us, reset_us.
--
-- OFFSET 0 keeps a step of the DO UPDATE (a LATERAL subquery whose columns are used several times)
-- from being flattened into the next: PostgreSQL would copy its expression into every use, so the
-- CASEs ran dozens of times per decision (server CPU per sliding-window decision 61 -> 33 µs).
WITH clock AS (
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now
)
INSERT INTO {{table}} AS s (key, window_start, window_count, previous_count, expires_at, allowed, remaining,
                            retry_after_us, reset_us)
SELECT $1::text, fresh.start, fresh.count, 0,
       CASE WHEN fresh.count > 0 THEN fresh.start + $5::bigint ELSE clock.now END,
       true, $4::bigint - fresh.count, 0,
       CASE WHEN fresh.count > 0 THEN fresh.start + $5::bigint - clock.now ELSE 0 END
FROM clock
CROSS JOIN LATERAL (
  SELECT clock.now - clock.now % $5::bigint AS start, CASE WHEN $3::boolean THEN 0 ELSE $2::bigint END AS count
) fresh
ON CONFLICT (key) DO UPDATE SET (window_start, window_count, expires_at, allowed, remaining, retry_after_us,
                                 reset_us) = (
  SELECT c.start, d.count,
         CASE WHEN d.count > 0 THEN c.start + $5::bigint ELSE x.now END,
         a.allowed, $4::bigint - d.count,
         CASE WHEN a.allowed THEN 0 ELSE c.start + $5::bigint - x.now END,
         CASE WHEN d.count > 0 THEN c.start + $5::bigint - x.now ELSE 0 END
  FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now) x
  CROSS JOIN LATERAL (SELECT x.now - x.now % $5::bigint AS aligned) w
  CROSS JOIN LATERAL (
    SELECT CASE WHEN s.window_start >= w.aligned THEN s.window_start ELSE w.aligned END AS start,
           CASE WHEN s.window_start >= w.aligned THEN s.window_count ELSE 0 END AS count
    OFFSET 0
  ) c
  CROSS JOIN LATERAL (SELECT c.count + $2::bigint <= $4::bigint AS allowed OFFSET 0) a
  CROSS JOIN LATERAL (
    SELECT CASE WHEN a.allowed AND NOT $3::boolean THEN c.count + $2::bigint ELSE c.count END AS count
  ) d
)
RETURNING allowed, remaining, retry_after_us, reset_us
