-- postgresOutbox (@bulwark/messaging/postgres): creates the outbox table, the one-row table
-- where the leader relay says whether it wants to be woken, and the trigger that wakes it (the
-- primary key is the only index a single relay needs; a fleet's is outbox-partition-index.sql).
-- Idempotent: `migrate()` runs it at every start, under an advisory lock so that processes
-- starting together do not race.
--
-- Placeholders (replaced by `postgresOutboxSql()` with quoted identifiers / literals):
--   {{table}}     the qualified table, e.g. "public"."bulwark_outbox"
--   {{relay_table}}  the qualified one-row table of the relay's wake-up flag
--   {{function}}  the qualified trigger function
--   {{trigger}}   the trigger name
--   {{table_literal}}, {{trigger_literal}}  the same two as string literals
--   {{channel}}   the LISTEN/NOTIFY channel, as a string literal
--
-- Columns:
--   position    insertion order across all writers (an identity; gaps are normal). The relay
--               publishes visible rows in this order. Its sequence must keep CACHE 1 (the
--               default): a row inserted after another transaction committed must get a
--               higher position than that transaction's rows.
--   envelope    the whole message as JSON (id, topic, type, key, payload, headers, ...)
--   id, topic, key  copies of the envelope's fields, for operators' queries

-- Sent as one simple query, all statements run in one implicit transaction: this lock serializes
-- concurrent migrations of the same table until the end.
SELECT pg_advisory_xact_lock(hashtext('bulwark.outbox.migrate'), hashtext({{table_literal}}));

CREATE TABLE IF NOT EXISTS {{table}} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL,
  topic text NOT NULL,
  key text,
  envelope jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- `notify`: whether the leader relay wants a NOTIFY at commit. A notifying commit takes a
-- cluster-wide lock that serializes it with every other notifying commit (fsync included), which
-- cut 8 writers' throughput about threefold in our measurements. So the leader asks for
-- notifications only while it is idle; while it is busy it reads again at once or within a few
-- milliseconds anyway, and writers commit without notifying.
CREATE TABLE IF NOT EXISTS {{relay_table}} (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  notify boolean NOT NULL DEFAULT true
);
INSERT INTO {{relay_table}} DEFAULT VALUES ON CONFLICT DO NOTHING;

-- Runs at commit (a deferred constraint trigger), so the flag is read as late as possible: a
-- relay that went idle while this transaction was still open is notified. PostgreSQL delivers
-- the notification after the commit (never for a transaction that rolls back) and folds the
-- identical notifications of one transaction into one.
-- A constraint trigger fires once per row, all at commit: only the first of them reads the flag,
-- the others see the transaction-local mark and return (a 20,000-row commit took 315-416 ms
-- with a read of the flag per row, 52-55 ms with the mark).
CREATE OR REPLACE FUNCTION {{function}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bulwark_outbox.checked', true) IS DISTINCT FROM {{channel}} THEN
    PERFORM set_config('bulwark_outbox.checked', {{channel}}, true);
    IF EXISTS (SELECT 1 FROM {{relay_table}} WHERE notify) THEN
      PERFORM pg_notify({{channel}}, '');
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- Created only when missing: dropping and re-creating it would lock the table against writers.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_trigger WHERE tgrelid = {{table_literal}}::regclass AND tgname = {{trigger_literal}}
  ) THEN
    CREATE CONSTRAINT TRIGGER {{trigger}} AFTER INSERT ON {{table}}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {{function}}();
  END IF;
END
$$;
