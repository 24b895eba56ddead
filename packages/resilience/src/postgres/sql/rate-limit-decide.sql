-- rate-limit-decide.sql: a batch of rate-limit decisions in one statement, through the function
-- of rate-limit-decide-function.sql ({{function}}).
--
-- $1 kinds (text[])   $2 keys (text[])   $3 costs (bigint[])   $4 dry runs (boolean[])
-- $5 limits (bigint[])   $6 periods in µs (bigint[]); one element per decision.
-- Returns one row per decision: ordinal (1-based position in the arrays), allowed, remaining,
-- retry_after_us, reset_us; rows come sorted by key, not by ordinal.
SELECT ordinal, allowed, remaining, retry_after_us, reset_us
FROM {{function}}($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::bigint[], $6::bigint[])
