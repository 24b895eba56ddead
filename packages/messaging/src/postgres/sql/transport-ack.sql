-- postgresTransport: acks a batch of deliveries by deleting their rows.
--   $1  bigint[]  row ids
--   $2  int[]     the delivery_count each was claimed with (fencing: a row claimed again since
--                 by another subscriber has a higher count and is left alone)
-- Returns the ids deleted.
DELETE FROM {{table}} m
USING unnest($1::bigint[], $2::int[]) AS acked(id, delivery_count)
WHERE m.id = acked.id AND m.delivery_count = acked.delivery_count
RETURNING m.id
