-- Takes the lease of one unfinished run if it is free (lease ran out or released) or already
-- held by $2; ignores wake_at (a reply may resume a parked run early).
-- $1 id, $2 owner, $3 lease_until, $4 now. Returns the run, or no row.
UPDATE {{sagas}} SET owner = $2, lease_until = $3::bigint, updated_at = $4::bigint
WHERE id = $1
  AND status IN ('running', 'compensating')
  AND (owner = $2 OR lease_until <= $4::bigint)
RETURNING id, name, status, input, owner, lease_until, wake_at, created_at, updated_at;
