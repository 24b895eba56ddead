-- postgresEventLog projections: takes the session lock that makes one runner active per projection.
--   $1  text  lock name; held until unlocked or the session ends (a crashed runner's with it)
SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked
