-- rate-limit-migrate.sql: the table of postgresRateLimitStore. Safe to run at every start.
-- {{table}} is the (optionally schema-qualified, quoted) table name, {{unlogged}} is 'UNLOGGED'
-- or empty, {{expires_index}} the quoted name of the index used by sweep().
--
-- One row per limited key; which state columns are used depends on the algorithm:
--   gcra (gcra, tokenBucket): tat = theoretical arrival time
--   fixed window:             window_start, window_count
--   sliding window:           window_start, window_count (current window), previous_count
-- Times are integer microseconds since the epoch, from clock_timestamp() on the server.
-- allowed / remaining / retry_after_us / reset_us hold the last decision, so that the single
-- INSERT ... ON CONFLICT DO UPDATE statement of a decision can return it.
-- UNLOGGED by default: rate-limit state is short-lived, and after a crash every key simply starts
-- from its full limit; in exchange writes skip the WAL. fillfactor leaves room for HOT updates.
CREATE {{unlogged}} TABLE IF NOT EXISTS {{table}} (
  key             text    PRIMARY KEY,
  tat             bigint,
  window_start    bigint,
  window_count    bigint,
  previous_count  bigint,
  expires_at      bigint  NOT NULL,
  allowed         boolean NOT NULL,
  remaining       bigint  NOT NULL,
  retry_after_us  bigint  NOT NULL,
  reset_us        bigint  NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS {{expires_index}} ON {{table}} (expires_at);
