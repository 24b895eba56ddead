-- Takes the leases of up to $4 unfinished runs that are free (lease ran out or released) and not
-- parked (wake_at null or due), oldest update first. SKIP LOCKED lets many orchestrators recover
-- at once without handing one run to two of them.
-- $1 owner, $2 lease_until, $3 now, $4 limit. Returns the runs taken.
UPDATE {{sagas}} AS run SET owner = $1, lease_until = $2::bigint, updated_at = $3::bigint
FROM (
  SELECT id FROM {{sagas}}
  WHERE status IN ('running', 'compensating')
    AND lease_until <= $3::bigint
    AND (wake_at IS NULL OR wake_at <= $3::bigint)
  ORDER BY updated_at
  LIMIT $4
  FOR UPDATE SKIP LOCKED
) AS free
WHERE run.id = free.id
RETURNING run.id, run.name, run.status, run.input, run.owner, run.lease_until, run.wake_at, run.created_at, run.updated_at;
