-- postgresDeadLetterStore (@bulwark/messaging/postgres): creates the dead-letter table. Idempotent.
--   {{table}}        the (optionally schema-qualified, quoted) table
--   {{storedIndex}}  the quoted name of the listing index
-- One row per dead-lettered message id; `message` is the envelope as JSON (failure headers
-- included) so operators can query it with SQL too.
-- The statements run as one implicit transaction under an advisory lock, because concurrent
-- CREATE TABLE IF NOT EXISTS races in PostgreSQL (processes starting together would fail).
SELECT pg_advisory_xact_lock(hashtext('bulwark.dead-letters.migrate'));
CREATE TABLE IF NOT EXISTS {{table}} (
  id              text        PRIMARY KEY,
  original_topic  text        NOT NULL,
  message         jsonb       NOT NULL,
  stored_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {{storedIndex}} ON {{table}} (original_topic, stored_at, id);
