-- rate-limit-reset.sql: forgets one key of postgresRateLimitStore. $1 key (text).
DELETE FROM {{table}} WHERE key = $1::text
