-- postgresEventLog.lag(): readable events after a cursor, counted up to a limit, and the oldest one's age.
--   $1  text    the cursor's transaction id
--   $2  bigint  the cursor's position
--   $3  int     the most to count
SELECT count(*)::int AS events,
       coalesce((extract(epoch FROM clock_timestamp() - min(recorded_at)) * 1000)::float8, 0) AS oldest_age_ms
FROM (
  SELECT recorded_at FROM {{table}}
  WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY transaction_id, position
  LIMIT $3
) AS unread
