-- postgresInbox.sweep(): forgets ids handled longer ago than the window.
--   $1  float8  window in ms
--   $2  int     most rows to delete in one call
-- Returns the number of rows deleted (as the statement's row count).
DELETE FROM {{table}}
WHERE ctid IN (
  SELECT ctid FROM {{table}}
  WHERE handled_at < now() - make_interval(secs => $1::float8 / 1000)
  LIMIT $2
)
