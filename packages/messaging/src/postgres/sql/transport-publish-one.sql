-- postgresTransport.publish() of a lone message: transport-publish.sql for a batch of one row (same
-- rows, same `blocked` rule, same held row for a topic without a group, same NOTIFY), with scalar
-- parameters, so the server keeps one generic plan for it: planning the array statement costs more
-- than running it, and one message at a time pays that at every call.
--   $1  text    topic
--   $2  text    message id
--   $3  text    ordering key (NULL when the message has none)
--   $4  bytea   serialized envelope
--   $5  float8  delay in ms before the message becomes visible (0: at once)
--   $6  text    the NOTIFY channel to wake the topic's subscribers on at commit, or NULL
-- Returns the topic when it got rows (notified on $6 when given).
-- Rendered twice: the `blocked` value is `false` for a message without a key (sql.publishOne) and
-- transport-publish-one-blocked.sql for one with a key (sql.publishOneKeyed). One statement for
-- both would be planned at every call without a key: with a NULL $3 a custom plan drops the
-- `blocked` probe, so it always looks cheaper than the generic plan and the server never switches.
WITH inserted AS (
  INSERT INTO {{table}} (topic, group_name, message_id, ordering_key, body, visible_at, blocked)
  SELECT $1::text, coalesce(g.group_name, ''), $2::text, $3::text, $4::bytea,
         now() + make_interval(secs => $5::float8 / 1000),
         {{blocked}}
  FROM (SELECT) AS one
  LEFT JOIN {{groupsTable}} g ON g.topic = $1::text
  ORDER BY g.group_name
  RETURNING topic
), published AS (
  SELECT DISTINCT topic FROM inserted
)
SELECT topic, CASE WHEN $6::text IS NOT NULL THEN pg_notify($6, topic) END AS notified
FROM published
