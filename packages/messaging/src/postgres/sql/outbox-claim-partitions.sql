-- postgresOutbox relay with `partitions` above 1: outbox-claim.sql restricted to the partitions this
-- relay holds. A row's partition is the hash of its key (of its topic when it has none) over the
-- partition count: all rows of a key are in one partition, read by one relay at a time, in position
-- order (see outbox-claim.sql for why that is commit order per key).
-- Known cost: the read walks the primary key from the oldest row and filters, so it also passes
-- over every row of the other members' partitions still in the table ahead of its own: about
-- (partitions / held) rows per row returned, and the whole backlog of a member that lags or whose
-- topic keeps failing (PostgreSQL 15, 4,000 rows read behind 100,000 such rows: ~90 ms, against
-- ~4 ms without them). Reading only its own rows needs an index led by something fixed per row; the
-- partition count is the relays' option, not the table's, so that is a stored bucket of the key hash
-- whose index scans the read merges (not built yet: with 3 relays on 20,000 rows it saves ~1.5 ms
-- of a 4,000-row read; it pays off behind a lagging member). Beware: once the table is analyzed,
-- PostgreSQL 15 plans each merged branch as a walk of the primary key (~10x slower) unless
-- random_page_cost is lowered (1.1) for the relay's session.
--   $1  int       the batch size
--   $2  text[]    topics to leave out (retried on their own), possibly empty
--   $3  bigint[]  positions read and not yet deleted (as in outbox-claim.sql)
--   $4  int       the partition count
--   $5  int[]     the partitions this relay holds
--   $6  bigint[]  published rows to delete first (possibly empty)
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
WHERE (hashtext(coalesce(outbox.key, outbox.topic)) & 2147483647) % $4::int = ANY($5::int[])
  AND outbox.topic <> ALL($2::text[])
  AND outbox.position <> ALL($3::bigint[])
ORDER BY outbox.position
LIMIT $1
