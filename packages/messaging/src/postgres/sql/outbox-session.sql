-- postgresOutbox relay: settings of the relay's dedicated session, applied once it is taken from
-- the pool (the connection is closed, not returned, when the relay lets it go).
--   $1  text  lock_timeout in ms: a standby's wait in outbox-lock.sql ends with SQLSTATE 55P03
--             after it and simply starts again, which proves the connection is still alive.
-- Server-side TCP keepalives (idle 10 s, then 3 probes 5 s apart): if the relay's host or network
-- vanishes without closing the connection, PostgreSQL ends the backend within ~25 s and frees
-- the leader lock for a standby, instead of holding it until the kernel's default (2 hours).
-- synchronous_commit off: the relay's deletes (and wake-up flag) do not wait for the WAL flush. A
-- server crash may then undo the last deletes of a few hundred ms, and those rows are published
-- again: a duplicate, which at-least-once allows, never a loss (the rows were published before).
-- Waiting for the flush put a disk sync on the relay's path for every batch.
-- enable_sort off: every read of the relay walks the primary key in position order and stops at
-- the batch size. With the partition filter of a fleet (outbox-claim-partitions.sql) the planner
-- guesses the filter keeps few rows and reads and sorts the whole table instead, at every read.
SELECT
  set_config('lock_timeout', $1::text, false),
  set_config('tcp_keepalives_idle', '10', false),
  set_config('tcp_keepalives_interval', '5', false),
  set_config('tcp_keepalives_count', '3', false),
  set_config('synchronous_commit', 'off', false),
  set_config('enable_sort', 'off', false)
