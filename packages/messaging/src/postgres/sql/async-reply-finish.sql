-- postgresAsyncReplyStore.finish(): records the outcome of the current run.
--   $1  text    id
--   $2  bigint  now (ms)
--   $3  text    run id: only the run that owns the record may finish it
--   $4  text    'succeeded' or 'failed'
--   $5  bigint  new expires_at (ms): results are kept until then
--   $6  text    succeeded: the result (JSON text), else NULL
--   $7  boolean succeeded: whether the result is a claim check claim, else NULL
--   $8  jsonb   failed: the error, else NULL
-- Updates one row when recorded; none when the record is missing, expired, not running or owned
-- by another run (a late run whose lease was taken over never overwrites its successor).
UPDATE {{table}}
SET status = $4,
    finished_at = $2,
    updated_at = $2,
    expires_at = $5,
    lease_until = NULL,
    result = $6,
    result_claimed = $7,
    error = $8::jsonb
WHERE id = $1 AND status = 'running' AND run_id = $3 AND expires_at > $2
