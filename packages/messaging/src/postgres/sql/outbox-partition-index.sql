-- postgresOutbox, for a fleet of relays (`partitions` above 1): the index that lets each member
-- read only the rows of its own partitions (outbox-claim-partition-merge.sql). Without it a
-- member walks the primary key over every other member's rows as well. The partition count is the
-- relays' option, so the index is built for one count; indexes of other counts on this table are
-- dropped (a fleet runs one count, and each index costs every writer an insert). Idempotent; run
-- by `migrate({ partitions })`, under the migration's advisory lock.
-- Placeholders, besides the table's (outbox-migrate.sql): partitions, the count as an integer
-- literal; partition_index, the index's unqualified name (it goes to the table's schema), and
-- partition_index_literal the same as a string literal; partition_index_prefix, the names of this
-- table's partition indexes without their count, as a string literal (`<table>_p`).
SELECT pg_advisory_xact_lock(hashtext('bulwark.outbox.migrate'), hashtext({{table_literal}}));

-- Built in the migration's transaction (not CONCURRENTLY): writers wait for it, which is short on
-- an outbox, whose published rows are deleted.
CREATE INDEX IF NOT EXISTS {{partition_index}}
  ON {{table}} (((hashtext(coalesce(key, topic)) & 2147483647) % {{partitions}}), position);

DO $$
DECLARE
  stale regclass;
BEGIN
  FOR stale IN
    SELECT index.indexrelid::regclass
    FROM pg_index AS index JOIN pg_class AS class ON class.oid = index.indexrelid
    WHERE index.indrelid = {{table_literal}}::regclass
      AND starts_with(class.relname, {{partition_index_prefix}})
      AND substr(class.relname, length({{partition_index_prefix}}) + 1) ~ '^[0-9]+$'
      AND class.relname <> {{partition_index_literal}}
  LOOP
    EXECUTE format('DROP INDEX %s', stale);
  END LOOP;
END
$$;
