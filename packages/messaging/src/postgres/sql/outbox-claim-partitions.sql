-- postgresOutbox relay with `partitions` above 1: outbox-claim.sql restricted to the partitions this
-- relay holds. A row's partition is the hash of its key (of its topic when it has none) over the
-- partition count: all rows of a key are in one partition, read by one relay at a time, in position
-- order (see outbox-claim.sql for why that is commit order per key).
-- Used where the table has no index of the relay's partition count (`migrate({ partitions })`
-- builds it; outbox-claim-partitions-indexed.sql starts the same read at the member's first row).
-- Known cost: this read walks the primary key from the oldest row and filters, so it also passes
-- over every row of the other members' partitions still in the table ahead of its own, and the
-- whole backlog of a member that lags or whose topic keeps failing.
--   $1  int       the batch size
--   $2  text[]    topics to leave out (retried on their own), possibly empty
--   $3  bigint[]  positions read and not yet deleted (as in outbox-claim.sql)
--   $4  int       the partition count
--   $5  int[]     the partitions this relay holds
--   $6  bigint[]  published rows to delete first (possibly empty)
-- The start placeholder is TRUE here, and the condition of outbox-claim-partitions-indexed.sql
-- (the member's first row) where the table has the partition index.
-- Returns the columns of outbox-claim.sql and partition.
WITH removed AS (
  -- Published rows, deleted in the same round trip as the read (they are among the left-out
  -- positions: the read's snapshot still sees them).
  DELETE FROM {{table}} WHERE position = ANY($6::bigint[])
)
SELECT
  {{claimed_columns}},
  (extract(epoch FROM clock_timestamp() - outbox.created_at) * 1000)::float8 AS age_ms,
  (hashtext(coalesce(outbox.key, outbox.topic)) & 2147483647) % $4::int AS partition
FROM {{table}} AS outbox
WHERE {{start}}
  AND (hashtext(coalesce(outbox.key, outbox.topic)) & 2147483647) % $4::int = ANY($5::int[])
  AND outbox.topic <> ALL($2::text[])
  AND outbox.position <> ALL($3::bigint[])
ORDER BY outbox.position
LIMIT $1
