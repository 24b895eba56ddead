-- postgresTransport: acks a batch of deliveries by deleting their rows.
--   $1  bigint[]  row ids
--   $2  int[]     the delivery_count each was claimed with (fencing: a row claimed again since
--                 by another subscriber has a higher count and is left alone)
--   $3  text      synchronous_commit for this transaction ('off' by default)
-- Unblocks the next row of each acked row's key, which becomes the head of its key.
--
-- Why an ack (and a claim, a nack) may commit asynchronously: losing one in a server crash
-- (within ~3 x wal_writer_delay) only makes the message visible again, so it is delivered once
-- more, which at-least-once allows and the consumer's inbox absorbs. Publishing stays synchronous:
-- losing a publish would lose the message. It saves an fsync per statement.
WITH acked AS (
  DELETE FROM {{table}} m
  USING unnest($1::bigint[], $2::int[]) AS given(id, delivery_count),
        (SELECT set_config('synchronous_commit', $3, true)) AS commit_mode
  WHERE m.id = given.id AND m.delivery_count = given.delivery_count
  RETURNING m.id, m.topic, m.group_name, m.ordering_key
)
UPDATE {{table}} next SET blocked = false
FROM acked
WHERE acked.ordering_key IS NOT NULL AND next.blocked
  AND next.id = (
    SELECT min(later.id) FROM {{table}} later
    WHERE later.topic = acked.topic AND later.group_name = acked.group_name
      AND later.ordering_key = acked.ordering_key AND later.id > acked.id)
