-- postgresAsyncReplyStore.start(): starts a run (compare-and-set).
--   $1  text    id
--   $2  bigint  now (ms)
--   $3  text    run id of the new run
--   $4  bigint  lease_until (ms)
-- Returns the updated record when the run started: it was pending, or running under a lease
-- that ran out. Concurrent starts queue on the row lock and re-check the WHERE clause against
-- the winner's committed row (READ COMMITTED), so exactly one returns a row.
UPDATE {{table}}
SET status = 'running',
    run_id = $3,
    lease_until = $4,
    started_at = $2,
    updated_at = $2,
    attempts = attempts + 1
WHERE id = $1
  AND expires_at > $2
  AND (status = 'pending' OR (status = 'running' AND lease_until <= $2))
RETURNING id, kind, status, created_at, updated_at, started_at, finished_at, expires_at, attempts,
          run_id, lease_until, result, result_claimed, error
