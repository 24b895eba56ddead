-- postgresTransport: acks a batch of deliveries by deleting their rows.
--   $1  bigint[]  row ids
--   $2  int[]     the delivery_count each was claimed with (fencing: a row claimed again since
--                 by another subscriber has a higher count and is left alone)
--   $3  text      synchronous_commit for this transaction ('off' by default)
-- Returns the ids deleted.
--
-- Why an ack (and a claim, a nack) may commit asynchronously: losing one in a server crash
-- (within ~3 x wal_writer_delay) only makes the message visible again, so it is delivered once
-- more, which at-least-once allows and the consumer's inbox absorbs. Publishing stays synchronous:
-- losing a publish would lose the message. It saves an fsync per statement.
DELETE FROM {{table}} m
USING unnest($1::bigint[], $2::int[]) AS acked(id, delivery_count),
      (SELECT set_config('synchronous_commit', $3, true)) AS commit_mode
WHERE m.id = acked.id AND m.delivery_count = acked.delivery_count
RETURNING m.id
