-- postgresDeadLetterStore.list(): dead letters, oldest first.
--   $1  text  original topic, or NULL for all
--   $2  int   limit
-- Returns (message, original_topic, stored_at_ms).
SELECT message, original_topic, (extract(epoch FROM stored_at) * 1000)::float8 AS stored_at_ms
FROM {{table}}
WHERE $1::text IS NULL OR original_topic = $1
ORDER BY stored_at, id
LIMIT $2
