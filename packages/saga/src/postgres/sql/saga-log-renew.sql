-- Heartbeat: extends the leases $1 still holds among the ids $2 to $3; returns the ids it holds.
UPDATE {{sagas}} SET lease_until = $3::bigint
WHERE owner = $1 AND id = ANY($2::text[])
RETURNING id;
