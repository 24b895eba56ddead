-- postgresTransport.publish(): stores messages, one row per message per consumer group of its
-- topic, in publish order. Publish calls made in the same tick share one statement (one commit,
-- one WAL fsync); each call's messages are contiguous and in order, and a statement is atomic, so
-- every call is all-or-nothing. The wake-up NOTIFY is sent here ($6) only when no other publish
-- of the transport is in flight, which saves a lone publisher a round trip before the subscriber
-- wakes; otherwise transport-notify.sql sends it after the commit: a transaction that notifies
-- holds a database-wide lock through its commit (and its WAL fsync), which would serialize
-- concurrent publishers and defeat group commit.
--   $1  text[]    topics, one per message
--   $2  text[]    message ids
--   $3  text[]    ordering keys (NULL where the message has none)
--   $4  bytea[]   serialized envelopes
--   $5  float8[]  delay in ms before each message becomes visible (0: at once)
--   $6  text      the NOTIFY channel to wake the topics' subscribers on at commit, or NULL
-- Returns the distinct topics that got rows (notified on $6 when given).
-- A keyed row is inserted `blocked` when an older row of its key is in the group already, or
-- earlier in this statement. A message for a topic without any group is held: one row with the
-- group '' (never a real group's name), which transport-adopt-held.sql hands to the topic's
-- groups once they exist. Publishing never drops a message.
WITH batch AS (
  SELECT b.topic, b.message_id, b.ordering_key, b.body, b.delay_ms, b.position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::float8[])
    WITH ORDINALITY AS b(topic, message_id, ordering_key, body, delay_ms, position)
), fanned AS (
  SELECT batch.*, coalesce(g.group_name, '') AS group_name,
         g.group_name IS NOT NULL AND batch.ordering_key IS NOT NULL AND (
           row_number() OVER (PARTITION BY batch.topic, g.group_name, batch.ordering_key ORDER BY batch.position) > 1
           OR EXISTS (
             SELECT 1 FROM {{table}} older
             WHERE older.topic = batch.topic AND older.group_name = g.group_name
               AND older.ordering_key = batch.ordering_key)
         ) AS blocked
  FROM batch
  LEFT JOIN {{groupsTable}} g ON g.topic = batch.topic
), inserted AS (
  INSERT INTO {{table}} (topic, group_name, message_id, ordering_key, body, visible_at, blocked)
  SELECT topic, group_name, message_id, ordering_key, body, now() + make_interval(secs => delay_ms / 1000), blocked
  FROM fanned
  ORDER BY position, group_name
  RETURNING topic
), published AS (
  SELECT DISTINCT topic FROM inserted
)
SELECT topic, CASE WHEN $6::text IS NOT NULL THEN pg_notify($6, topic) END AS notified
FROM published
