-- postgresOutbox relay: gives leadership up on close (the connection is returned to the pool).
--   $1  text  the qualified table name, as in outbox-lock.sql
SELECT pg_advisory_unlock(hashtext('bulwark.outbox'), hashtext($1::text))
