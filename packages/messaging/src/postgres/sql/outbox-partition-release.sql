-- postgresOutbox relay with `partitions` above 1: gives one partition up, for another relay to take
-- (only once every row of it that this relay read was published and deleted, so the next holder
-- starts where this one stopped).
--   $1  text  the qualified table name
--   $2  int   the lock of the partition, as in outbox-partition-take.sql
SELECT pg_advisory_unlock(hashtext('bulwark.outbox.partitions:' || $1::text), $2::int)
