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
WITH groups AS (
  SELECT group_name FROM {{groupsTable}} WHERE topic = $1
), inserted AS (
  INSERT INTO {{table}} (topic, group_name, message_id, ordering_key, body, visible_at)
  SELECT $1, g.group_name, batch.message_id, batch.ordering_key, batch.body,
         now() + make_interval(secs => $5::float8 / 1000)
  FROM unnest($2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS batch(message_id, ordering_key, body, position)
  CROSS JOIN groups g
  ORDER BY batch.position, g.group_name
  RETURNING 1
)
SELECT count(*)::int AS inserted FROM inserted
