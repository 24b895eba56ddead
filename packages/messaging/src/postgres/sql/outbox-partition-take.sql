-- postgresOutbox relay with `partitions` above 1: tries to take one partition, without waiting.
--   $1  text  the qualified table name
--   $2  int   the lock of the partition: partitions * 65536 + partition
-- Returns taken: whether this session now holds it (session-level, freed with the connection, so a
-- killed relay's partitions are free for the others at once).
SELECT pg_try_advisory_lock(hashtext('bulwark.outbox.partitions:' || $1::text), $2::int) AS taken
