-- postgresDeadLetterStore.remove(): deletes the selected dead letters.
--   $1  text[]  message ids, or NULL for any
--   $2  text    original topic, or NULL for any
-- Returns the ids deleted.
DELETE FROM {{table}}
WHERE ($1::text[] IS NULL OR id = ANY($1::text[])) AND ($2::text IS NULL OR original_topic = $2)
RETURNING id
