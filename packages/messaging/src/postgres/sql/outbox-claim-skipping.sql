-- postgresOutbox relay: outbox-claim.sql without the rows of some topics, used while those
-- topics' publishing is being retried: nothing newer of theirs may overtake the rows waiting for
-- that, while every other topic goes on. (A separate statement so the common read stays as
-- plain as it was.)
--   $1  int       the batch size
--   $2  text[]    topics to leave out
--   $3  bigint[]  positions being published (as in outbox-claim.sql)
--   $4  bigint[]  published rows to delete first (possibly empty)
-- Returns the columns of outbox-claimed-columns.sql and age_ms (how long ago the row was written).
WITH removed AS (
  -- Published rows, deleted in the same round trip as the read (they are among the left-out
  -- positions: the read's snapshot still sees them).
  DELETE FROM {{table}} WHERE position = ANY($4::bigint[])
)
SELECT
  {{claimed_columns}},
  (extract(epoch FROM clock_timestamp() - outbox.created_at) * 1000)::float8 AS age_ms
FROM {{table}} AS outbox
WHERE outbox.topic <> ALL($2::text[]) AND outbox.position <> ALL($3::bigint[])
ORDER BY outbox.position
LIMIT $1
