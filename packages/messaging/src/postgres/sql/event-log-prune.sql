-- postgresEventLog.prune(): retention; deletes events at or before a cursor and/or older than an age.
--   $1  text    the cursor's transaction id, or NULL
--   $2  bigint  the cursor's position, or NULL
--   $3  float8  age in ms, or NULL
DELETE FROM {{table}}
WHERE ($1::text IS NOT NULL AND (transaction_id, position) <= ($1::text::xid8, $2::bigint))
   OR ($3::float8 IS NOT NULL AND recorded_at < now() - $3::float8 * interval '1 millisecond')
