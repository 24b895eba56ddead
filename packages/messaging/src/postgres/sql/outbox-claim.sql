-- postgresOutbox relay: reads the next rows to publish, oldest first. Run by the leader relay only.
--   $1  int  the batch size
-- Returns one row per message (position, envelope), or a single row with NULLs when none is
-- ready; every row also carries:
--   waiting        true when committed-or-running rows exist that are not ready yet
--   oldest_age_ms  age of the oldest row in the table (ready or not), NULL when it is empty
--
-- Why `transaction_id < pg_snapshot_xmin(pg_current_snapshot())`: a transaction that started
-- writing before another may commit after it. Taking only rows whose transaction is older than
-- every transaction still running means no row can later appear before the ones returned here:
-- (transaction_id, position) order is final once read, so publishing in it never overtakes a
-- message of the same key that is still uncommitted. Rows of rolled-back transactions are never
-- visible.
WITH horizon AS MATERIALIZED (
  SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
),
ready AS (
  SELECT outbox.position, outbox.transaction_id, outbox.envelope
  FROM {{table}} AS outbox
  WHERE outbox.transaction_id < (SELECT xmin FROM horizon)
  ORDER BY outbox.transaction_id, outbox.position
  LIMIT $1
),
status AS (
  SELECT
    EXISTS (
      SELECT 1 FROM {{table}} AS outbox WHERE outbox.transaction_id >= (SELECT xmin FROM horizon)
    ) AS waiting,
    (
      SELECT (extract(epoch FROM clock_timestamp() - outbox.created_at) * 1000)::float8
      FROM {{table}} AS outbox
      ORDER BY outbox.transaction_id, outbox.position
      LIMIT 1
    ) AS oldest_age_ms
)
SELECT ready.position::text AS position, ready.envelope, status.waiting, status.oldest_age_ms
FROM status
LEFT JOIN ready ON true
ORDER BY ready.transaction_id, ready.position
