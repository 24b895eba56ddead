-- postgresOutbox relay with `partitions` above 1: who is in the fleet and who holds which partition.
--   $1  text  the qualified table name
-- Returns one row per granted lock of the fleet's lock class: pid (the holder's backend) and lock:
-- 0 for a membership (outbox-fleet-join.sql), else partitions * 65536 + partition for a partition
-- (outbox-partition-take.sql) — so a relay sees a member that counts partitions differently.
SELECT locks.pid, locks.objid::bigint AS lock
FROM pg_locks AS locks
WHERE locks.locktype = 'advisory'
  AND locks.classid = hashtext('bulwark.outbox.partitions:' || $1::text)::oid
  AND locks.objsubid = 2
  AND locks.granted
