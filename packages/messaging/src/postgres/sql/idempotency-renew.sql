-- postgresIdempotencyStore.renew(): extends an in-progress lease still held by the caller.
--   $1  text    key
--   $2  text    lease token
--   $3  float8  new lease in ms, from now
-- One row updated when extended; none when the lease is no longer the caller's.
UPDATE {{table}}
SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000),
    expires_at = now() + make_interval(secs => $3::float8 / 1000)
WHERE key = $1 AND status = 'in-progress' AND lease_token = $2 AND lease_expires_at > now()
