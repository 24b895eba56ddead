-- postgresEventLog.read(): committed events after a cursor, in log order.
--   $1  text    the cursor's transaction id
--   $2  bigint  the cursor's position
--   $3  int     limit
--   $4  text[]  types to keep, or NULL for all
-- Only events below the visibility horizon (the oldest running transaction) are read: a
-- transaction still running may yet commit events that come before anything above it.
SELECT position, transaction_id::text AS transaction_id_text, id, stream, type, data, headers,
       (extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at_ms
FROM {{table}}
WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND ($4::text[] IS NULL OR type = ANY ($4::text[]))
ORDER BY transaction_id, position
LIMIT $3
