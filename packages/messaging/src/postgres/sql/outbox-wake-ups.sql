-- postgresOutbox relay: the leader asks writers to NOTIFY at commit (true, when it goes idle) or
-- not to (false, while it is busy reading anyway). See the `notify` flag in outbox-migrate.sql.
--   $1  boolean  whether notifications are wanted
UPDATE {{relay_table}} SET notify = $1::boolean WHERE notify IS DISTINCT FROM $1::boolean
