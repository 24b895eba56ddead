-- rate-limit-sweep.sql: drops the keys of postgresRateLimitStore that are back to their full
-- limit (their state is then the same as no state). No parameters; returns the deleted count
-- through the command tag.
-- SKIP LOCKED: a row a decision holds is left for the next sweep. The sweep never waits for a
-- lock, so it cannot deadlock with a batch of decisions that holds several rows (see
-- rate-limit-decide-function.sql); a row in use is not idle anyway.
DELETE FROM {{table}}
WHERE key IN (
  SELECT key FROM {{table}}
  WHERE expires_at <= (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
  FOR UPDATE SKIP LOCKED
)
