-- Creates the saga log tables if missing; safe to run at every start, from many processes at once
-- (an advisory lock serializes concurrent runs of it; sent as one multi-statement query, it runs as
-- one implicit transaction).
--   {{sagas}}   one row per run: status, input, the lease (owner, lease_until) and the parking time
--               (wake_at) of a run waiting for a reply; seq counts its entries.
--   {{entries}} the timeline of each run, numbered 1, 2, 3... by seq.
-- Times are milliseconds since the epoch written by the orchestrators: the log reads no clock.
SELECT pg_advisory_xact_lock(hashtext('bulwark-saga-log:{{sagas}}'));
CREATE TABLE IF NOT EXISTS {{sagas}} (
  id text PRIMARY KEY,
  name text NOT NULL,
  status text NOT NULL,
  input jsonb NOT NULL,
  owner text,
  lease_until bigint NOT NULL DEFAULT 0,
  wake_at bigint,
  seq integer NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
-- Recovery looks for unfinished runs whose lease ran out; finished runs are kept out of the index.
CREATE INDEX IF NOT EXISTS {{recoverableIndex}} ON {{sagas}} (updated_at) WHERE status IN ('running', 'compensating');
-- Dashboards list runs by status, most recently updated first.
CREATE INDEX IF NOT EXISTS {{statusIndex}} ON {{sagas}} (status, updated_at DESC);
CREATE TABLE IF NOT EXISTS {{entries}} (
  saga_id text NOT NULL,
  seq integer NOT NULL,
  at bigint NOT NULL,
  kind text NOT NULL,
  step text,
  attempt integer,
  data jsonb,
  PRIMARY KEY (saga_id, seq)
);
