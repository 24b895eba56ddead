-- postgresEventLog (@bulwark/messaging/postgres): creates the event log and its checkpoint table. Idempotent.
--   {{table}}        the (optionally schema-qualified, quoted) event table
--   {{checkpoints}}  the quoted checkpoint table of the log's projections
--   {{readIndex}}    the quoted name of the index in read order
--   {{streamIndex}}  the quoted name of the index per stream
-- `transaction_id` is the writer's xid8: readers read in (transaction_id, position) order and
-- only below pg_snapshot_xmin(pg_current_snapshot()), the oldest transaction still running, so
-- no transaction can still commit an event before what a reader has passed.
-- The statements run as one implicit transaction under an advisory lock, because concurrent
-- CREATE TABLE IF NOT EXISTS races in PostgreSQL (processes starting together would fail).
SELECT pg_advisory_xact_lock(hashtext('bulwark.event-log.migrate'));
CREATE TABLE IF NOT EXISTS {{table}} (
  position        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  id              text        NOT NULL,
  stream          text        NOT NULL,
  type            text        NOT NULL,
  data            jsonb       NOT NULL,
  headers         jsonb       NOT NULL DEFAULT '{}',
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {{readIndex}} ON {{table}} (transaction_id, position);
CREATE INDEX IF NOT EXISTS {{streamIndex}} ON {{table}} (stream, position);
CREATE TABLE IF NOT EXISTS {{checkpoints}} (
  name            text        PRIMARY KEY,
  transaction_id  bigint      NOT NULL,
  position        bigint      NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
