-- postgresTransport.publish(): stores a batch of messages, one row per message per consumer group
-- of the topic, in publish order. The wake-up NOTIFY is sent by transport-notify.sql after the
-- commit, not here: a transaction that notifies holds a database-wide lock through its commit
-- (and its WAL fsync), which would serialize concurrent publishers and defeat group commit.
--   $1  text     topic
--   $2  text[]   message ids
--   $3  text[]   ordering keys (NULL where the message has none)
--   $4  bytea[]  serialized envelopes
--   $5  float8   delay in ms before the messages become visible (0: at once)
-- Returns one row: inserted (rows written; 0 when the topic has no group yet).
-- A keyed row is inserted `blocked` when an older row of its key is in the group already, or
-- earlier in this batch.
WITH groups AS (
  SELECT group_name FROM {{groupsTable}} WHERE topic = $1
), batch AS (
  SELECT g.group_name, b.message_id, b.ordering_key, b.body, b.position,
         b.ordering_key IS NOT NULL AND (
           row_number() OVER (PARTITION BY g.group_name, b.ordering_key ORDER BY b.position) > 1
           OR EXISTS (
             SELECT 1 FROM {{table}} older
             WHERE older.topic = $1 AND older.group_name = g.group_name AND older.ordering_key = b.ordering_key)
         ) AS blocked
  FROM unnest($2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS b(message_id, ordering_key, body, position)
  CROSS JOIN groups g
), inserted AS (
  INSERT INTO {{table}} (topic, group_name, message_id, ordering_key, body, visible_at, blocked)
  SELECT $1, group_name, message_id, ordering_key, body, now() + make_interval(secs => $5::float8 / 1000), blocked
  FROM batch
  ORDER BY position, group_name
  RETURNING 1
)
SELECT count(*)::int AS inserted FROM inserted
