-- postgresOutbox relay with `partitions` above 1: leaves the fleet on close (before the connection
-- goes back to the pool): frees its partitions, its membership and its share of the single relay's
-- lock. The relay's session holds no other advisory lock.
SELECT pg_advisory_unlock_all()
