-- postgresIdempotencyStore.complete(): stores the outcome if the caller's lease still holds the key.
--   $1  text    key
--   $2  text    lease token
--   $3  bytea   outcome
--   $4  float8  ttl in ms of the completed record
-- One row updated when stored; none when the lease is no longer the caller's (ran out, taken
-- over, released, completed): a late holder never overwrites its successor's outcome.
UPDATE {{table}}
SET status = 'completed', outcome = $3, lease_token = NULL, lease_expires_at = NULL,
    expires_at = now() + make_interval(secs => $4::float8 / 1000)
WHERE key = $1 AND status = 'in-progress' AND lease_token = $2 AND lease_expires_at > now()
