-- postgresEventLog.readStream(): one stream's committed events in position order.
--   $1  text    stream
--   $2  bigint  after this position
--   $3  int     limit
SELECT position, transaction_id::text AS transaction_id_text, id, stream, type, data, headers,
       (extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at_ms
FROM {{table}}
WHERE stream = $1 AND position > $2
ORDER BY position
LIMIT $3
