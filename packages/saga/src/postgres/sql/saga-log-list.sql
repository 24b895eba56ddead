-- Runs for dashboards, most recently updated first. $1 status (null: all), $2 limit, $3 offset.
SELECT id, name, status, input, owner, lease_until, wake_at, created_at, updated_at
FROM {{sagas}}
WHERE $1::text IS NULL OR status = $1::text
ORDER BY updated_at DESC, id
LIMIT $2 OFFSET $3;
