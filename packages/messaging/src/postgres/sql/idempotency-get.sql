-- postgresIdempotencyStore.get(): reads the live record of a key.
--   $1  text  key
-- One row (status, fingerprint, lease_token, outcome, expires_at_ms), or none when the key has
-- no live record (never written, released, or expired and not yet swept).
SELECT status, fingerprint, lease_token, outcome, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at_ms
FROM {{table}}
WHERE key = $1 AND expires_at > now()
