-- postgresEventLog.head(): the cursor of the last readable event (no row when the log is empty).
SELECT transaction_id::text AS transaction_id_text, position
FROM {{table}}
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, position DESC
LIMIT 1
