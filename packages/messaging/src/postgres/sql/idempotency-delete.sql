-- postgresIdempotencyStore.delete(): deletes a key whatever its state.
--   $1  text  key
DELETE FROM {{table}} WHERE key = $1
