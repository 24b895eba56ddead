-- Deletes finished runs last updated before $1, oldest first, at most $2 of them, with their
-- timelines; unfinished runs are never touched. SKIP LOCKED lets purges run beside anything.
-- Returns one row: purged = how many runs were deleted.
WITH gone AS (
  DELETE FROM {{sagas}}
  WHERE id IN (
    SELECT id FROM {{sagas}}
    WHERE status IN ('completed', 'compensated', 'failed') AND updated_at < $1::bigint
    ORDER BY updated_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  RETURNING id
), timeline AS (
  DELETE FROM {{entries}} WHERE saga_id IN (SELECT id FROM gone)
)
SELECT count(*)::integer AS purged FROM gone;
