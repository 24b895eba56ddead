-- postgresOutbox relay: undoes the session's settings (outbox-session.sql) and its LISTEN before
-- the connection goes back to the pool, so nothing of the relay leaks to the next user.
-- (RESET ALL keeps prepared statements, which pg's client caches per connection.)
UNLISTEN *;
RESET ALL
