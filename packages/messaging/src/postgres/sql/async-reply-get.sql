-- postgresAsyncReplyStore.get(): reads a live record.
--   $1  text    id
--   $2  bigint  now (ms): a record whose expires_at is not after it reads as missing
SELECT id, kind, status, created_at, updated_at, started_at, finished_at, expires_at, attempts,
       run_id, lease_until, result, result_claimed, error
FROM {{table}}
WHERE id = $1 AND expires_at > $2
