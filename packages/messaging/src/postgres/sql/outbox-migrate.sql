-- postgresOutbox (@bulwark/messaging/postgres): creates the outbox table, its index and the
-- trigger that wakes relays. Idempotent: `migrate()` runs it at every start, inside a transaction
-- holding an advisory lock so that processes starting together do not race.
--
-- Placeholders (replaced by `postgresOutboxSql()` with quoted identifiers / literals):
--   {{table}}     the qualified table, e.g. "public"."bulwark_outbox"
--   {{index}}     the index name (unqualified; it lives in the table's schema)
--   {{function}}  the qualified trigger function
--   {{trigger}}   the trigger name
--   {{table_literal}}, {{trigger_literal}}  the same two as string literals
--   {{channel}}   the LISTEN/NOTIFY channel, as a string literal
--
-- Columns:
--   position        insertion order within a transaction (identity; gaps are normal)
--   transaction_id  the writer's top-level transaction id (xid8, never wraps around). Relays
--                   publish in (transaction_id, position) order, and only rows whose
--                   transaction is older than every transaction still running.
--   envelope        the whole message as JSON (id, topic, type, key, payload, headers, ...)

-- Sent as one simple query, all statements run in one implicit transaction: this lock serializes
-- concurrent migrations of the same table until the end.
SELECT pg_advisory_xact_lock(hashtext('bulwark.outbox.migrate'), hashtext({{table_literal}}));

CREATE TABLE IF NOT EXISTS {{table}} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  id text NOT NULL,
  topic text NOT NULL,
  key text,
  envelope jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The relay reads in this order, starting below the snapshot's xmin: an index range scan.
CREATE INDEX IF NOT EXISTS {{index}} ON {{table}} (transaction_id, position);

-- One notification per inserting statement; PostgreSQL delivers it at commit (never for a
-- transaction that rolls back) and folds identical notifications of one transaction into one.
CREATE OR REPLACE FUNCTION {{function}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify({{channel}}, '');
  RETURN NULL;
END
$$;

-- Created only when missing: dropping and re-creating it would lock the table against writers.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_trigger WHERE tgrelid = {{table_literal}}::regclass AND tgname = {{trigger_literal}}
  ) THEN
    CREATE TRIGGER {{trigger}} AFTER INSERT ON {{table}} FOR EACH STATEMENT EXECUTE FUNCTION {{function}}();
  END IF;
END
$$;
