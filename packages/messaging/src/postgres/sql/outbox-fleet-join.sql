-- postgresOutbox relay with `partitions` above 1: joins the fleet that shares the outbox.
--   $1  text  the qualified table name (hashed into the advisory lock keys)
-- Returns pid: this session's backend pid (how the fleet's members tell each other apart).
-- Two session-level shared advisory locks, held until the relay's connection ends:
-- - the single relay's leader lock (outbox-lock.sql), shared: a fleet and a relay started with
--   `partitions: 1` never publish at once (the join waits, up to lock_timeout, while such a relay
--   leads, and such a relay waits while a fleet member is joined);
-- - the fleet's membership lock (object 0 of the fleet's lock class): pg_locks then lists every
--   member, live ones only (a killed relay's locks go with its connection).
SELECT
  pg_backend_pid() AS pid,
  pg_advisory_lock_shared(hashtext('bulwark.outbox'), hashtext($1::text)) AS single_relay_excluded,
  pg_advisory_lock_shared(hashtext('bulwark.outbox.partitions:' || $1::text), 0) AS joined
