-- postgresInbox (@bulwark/messaging/postgres): creates the inbox table. Idempotent.
--   {{table}}          the (optionally schema-qualified, quoted) table
--   {{handledIndex}}   the quoted name of the index the sweep uses
-- One row per message id handled by a consumer group, written in the same transaction as the
-- handler's own writes: the row exists if and only if those writes committed.
CREATE TABLE IF NOT EXISTS {{table}} (
  consumer_group  text        NOT NULL,
  message_id      text        NOT NULL,
  handled_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, message_id)
);
CREATE INDEX IF NOT EXISTS {{handledIndex}} ON {{table}} (handled_at);
