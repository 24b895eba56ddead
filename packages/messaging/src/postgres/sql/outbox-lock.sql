-- postgresOutbox relay: waits to become the leader, the one relay of this table that publishes.
--   $1  text  the qualified table name (hashed into the advisory lock key)
-- A session-level advisory lock: held on the relay's dedicated connection until it unlocks or
-- the connection ends (a killed relay's lock is freed by PostgreSQL at once), so a standby
-- blocked here takes over as soon as the leader is gone.
SELECT pg_advisory_lock(hashtext('bulwark.outbox'), hashtext($1::text))
