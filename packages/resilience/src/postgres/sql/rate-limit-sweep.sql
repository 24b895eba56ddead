-- rate-limit-sweep.sql: drops the keys of postgresRateLimitStore that are back to their full
-- limit (their state is then the same as no state). No parameters; returns the deleted count
-- through the command tag.
DELETE FROM {{table}} WHERE expires_at <= (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
