-- postgresIdempotencyStore.release(): drops an in-progress lease so the key may be tried again.
--   $1  text  key
--   $2  text  lease token
-- One row deleted when released; none when the lease is no longer the caller's.
DELETE FROM {{table}}
WHERE key = $1 AND status = 'in-progress' AND lease_token = $2 AND lease_expires_at > now()
