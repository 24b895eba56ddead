-- postgresOutbox relay of a fleet: whether the table has the index of the relay's partition count
-- (outbox-partition-index.sql), built and valid. With it the relay reads with
-- outbox-claim-partition-merge.sql, without it with outbox-claim-partitions.sql.
--   $1  text  the qualified index name
SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND indisvalid) AS ready
