-- postgresAsyncReplyStore (@bulwark/messaging/postgres): creates the async reply table and the
-- index the sweeper uses. Idempotent: `migrate()` runs it at every start, inside a transaction
-- holding an advisory lock so that instances starting together do not race on CREATE.
--   {{table}}        the (optionally schema-qualified, quoted) table name
--   {{expiresIndex}} the quoted name of the expiry index
-- Times are bigint ms since the epoch on the asyncReply's clock (not the database's), so every
-- store agrees with the clock that computed leases and expiries.
-- Columns:
--   status          'pending' | 'running' | 'succeeded' | 'failed'
--   run_id          token of the current (or last) run; only it may finish the record
--   lease_until     while running: after it another worker may take the operation over
--   result          succeeded: JSON text of the result, or of a claim when result_claimed
--   error           failed: { name, message, code? }
--   expires_at      the record reads as missing from then on and may be swept
CREATE TABLE IF NOT EXISTS {{table}} (
  id              text     PRIMARY KEY,
  kind            text     NOT NULL,
  status          text     NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  created_at      bigint   NOT NULL,
  updated_at      bigint   NOT NULL,
  started_at      bigint,
  finished_at     bigint,
  expires_at      bigint   NOT NULL,
  attempts        integer  NOT NULL DEFAULT 0,
  run_id          text,
  lease_until     bigint,
  result          text,
  result_claimed  boolean,
  error           jsonb
);
CREATE INDEX IF NOT EXISTS {{expiresIndex}} ON {{table}} (expires_at);
