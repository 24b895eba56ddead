-- postgresAsyncReplyStore.sweepExpired(): deletes up to $2 expired records.
--   $1  bigint  now (ms)
--   $2  integer the most rows to delete in one statement (keeps transactions short)
DELETE FROM {{table}}
WHERE id IN (SELECT id FROM {{table}} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)
