-- postgresIdempotencyStore.sweep(): deletes up to $1 rows that stopped counting (expired outcomes,
-- leases that ran out), oldest first. Expired rows are already ignored by every other statement;
-- sweeping only reclaims space. SKIP LOCKED lets several sweepers run without waiting on each other.
--   $1  int  most rows to delete in this call
DELETE FROM {{table}}
WHERE key IN (
  SELECT key FROM {{table}} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
