-- postgresOutbox relay: reads the next messages to publish, in position order. Run only by the
-- leader relay (the holder of the lock in outbox-lock.sql), so nothing else reads concurrently.
--   $1  int       the batch size
--   $2  bigint[]  positions being published (read by the previous claim, not deleted yet)
--   $3  bigint[]  published rows to delete first (possibly empty)
-- Returns the columns of outbox-claimed-columns.sql and age_ms (how long ago the row was written).
--
-- Why plain position order over the rows visible now keeps per-key commit order: a row becomes
-- visible when its transaction commits. When writers of a key take turns (a row lock on the
-- aggregate, one worker per key...), the next writer inserts after the previous one committed,
-- so its row gets a higher position and is never visible before the earlier one: position order
-- is commit order. A transaction with a lower position that commits late (out of sequence
-- order) is simply read on a later pass: rows are deleted once published, there is no offset
-- to skip past it. Nothing waits for transactions still running, and rows of rolled-back
-- transactions are never visible.
WITH removed AS (
  -- Published rows, deleted in the same round trip as the read (they are among the left-out
  -- positions: the read's snapshot still sees them).
  DELETE FROM {{table}} WHERE position = ANY($3::bigint[])
)
SELECT
  {{claimed_columns}},
  (extract(epoch FROM clock_timestamp() - outbox.created_at) * 1000)::float8 AS age_ms
FROM {{table}} AS outbox
WHERE outbox.position <> ALL($2::bigint[])
ORDER BY outbox.position
LIMIT $1
