-- postgresEventLog projections: gives a projection's session lock back.
--   $1  text  lock name
SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS unlocked
