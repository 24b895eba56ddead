-- One run by id ($1), or no row.
SELECT id, name, status, input, owner, lease_until, wake_at, created_at, updated_at
FROM {{sagas}} WHERE id = $1;
