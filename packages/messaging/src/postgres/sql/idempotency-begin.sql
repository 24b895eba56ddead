-- postgresIdempotencyStore.begin(): acquires a key, or reads the live record holding it.
--   $1  text    key
--   $2  text    fingerprint
--   $3  text    lease token (made by the caller, unguessable)
--   $4  float8  lease in ms
-- Returns one row: (acquired = true) when the caller now holds the key, else (acquired = false)
-- with the live record. Returns NO row in one race: a concurrent begin inserted the key after
-- this statement took its snapshot, so ON CONFLICT saw the row but the SELECT cannot; the caller
-- runs the statement again.
--
-- Atomicity comes from the primary key: of concurrent inserts one wins, the others wait for it
-- and then evaluate the DO UPDATE condition on its committed row. A lease that ran out
-- (lease_expires_at <= now(): its holder crashed) or an expired outcome is taken over in place.
WITH acquired AS (
  INSERT INTO {{table}} AS record (key, fingerprint, status, lease_token, lease_expires_at, outcome, expires_at)
  VALUES ($1, $2, 'in-progress', $3, now() + make_interval(secs => $4::float8 / 1000), NULL,
          now() + make_interval(secs => $4::float8 / 1000))
  ON CONFLICT (key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint,
        status = 'in-progress',
        lease_token = EXCLUDED.lease_token,
        lease_expires_at = EXCLUDED.lease_expires_at,
        outcome = NULL,
        expires_at = EXCLUDED.expires_at,
        created_at = now()
    WHERE (record.status = 'in-progress' AND record.lease_expires_at <= now())
       OR (record.status = 'completed' AND record.expires_at <= now())
  RETURNING record.key
)
SELECT true AS acquired, NULL::text AS status, NULL::text AS fingerprint, NULL::text AS lease_token,
       NULL::bytea AS outcome, NULL::float8 AS expires_at_ms
FROM acquired
UNION ALL
SELECT false, record.status, record.fingerprint, record.lease_token, record.outcome,
       (extract(epoch FROM record.expires_at) * 1000)::float8
FROM {{table}} AS record
WHERE record.key = $1 AND record.expires_at > now() AND NOT EXISTS (SELECT 1 FROM acquired)
