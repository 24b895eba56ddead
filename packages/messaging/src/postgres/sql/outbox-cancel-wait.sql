-- postgresOutbox relay: ends a standby's wait for leadership when it closes.
--   $1  int  the backend pid of the standby's connection (blocked in outbox-lock.sql)
-- Cancelling frees the backend at once; merely closing the socket would leave it queued for
-- the lock until the lock was granted.
SELECT pg_cancel_backend($1::int)
