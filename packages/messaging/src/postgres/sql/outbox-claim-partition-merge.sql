-- postgresOutbox relay with `partitions` above 1, where the table has the index of that partition
-- count (outbox-partition-index.sql): the read of outbox-claim-partitions.sql, taken from the index
-- instead of a walk of the primary key. The member's partitions are read side by side, each in
-- position order from its part of the index (one outbox-claim-partition-branch.sql per partition,
-- joined by UNION ALL, in place of the branches placeholder), and merged in position order (a
-- Merge Append), so the read touches only rows of this member's partitions: the other members'
-- rows, and the backlog of one that lags, cost it nothing.
--   $1  int       the batch size
--   $2  text[]    topics to leave out (retried on their own), possibly empty
--   $3  bigint[]  positions read and not yet deleted (as in outbox-claim.sql)
--   $4  bigint[]  published rows to delete first (possibly empty)
-- Returns the columns of outbox-claim-partitions.sql.
WITH removed AS (
  -- Published rows, deleted in the same round trip as the read (they are among the left-out
  -- positions: the read's snapshot still sees them).
  DELETE FROM {{table}} WHERE position = ANY($4::bigint[])
)
SELECT
  {{claimed_columns}},
  (extract(epoch FROM clock_timestamp() - outbox.created_at) * 1000)::float8 AS age_ms,
  outbox.partition
FROM (
{{branches}}
) AS outbox
ORDER BY outbox.position
LIMIT $1
