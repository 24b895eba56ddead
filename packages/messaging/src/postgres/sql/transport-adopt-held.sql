-- postgresTransport.declareGroup(), subscribe() and idle subscriptions: hands the messages held
-- for a topic (published while it had no group: rows with group '') to every group it has now.
--   $1  text  topic
-- Returns nothing. Held rows are deleted and copied once per group, in publish order, with the
-- same `blocked` rule as transport-publish.sql. Nothing is deleted unless the topic has a group
-- (the copy joins on the groups, so a topic without one would otherwise lose its held rows).
-- Two adopters at once: the second waits on the first's row locks and then finds nothing left.
-- A publish that saw no group and commits after a group's adoption leaves a held row behind;
-- idle subscriptions run this again, so it is delivered within a poll interval.
WITH held AS (
  DELETE FROM {{table}} m
  WHERE m.topic = $1 AND m.group_name = ''
    AND EXISTS (SELECT 1 FROM {{groupsTable}} g WHERE g.topic = $1)
  RETURNING m.id, m.topic, m.message_id, m.ordering_key, m.body, m.visible_at, m.published_at
), fanned AS (
  SELECT held.*, g.group_name,
         held.ordering_key IS NOT NULL AND (
           row_number() OVER (PARTITION BY g.group_name, held.ordering_key ORDER BY held.id) > 1
           OR EXISTS (
             SELECT 1 FROM {{table}} older
             WHERE older.topic = held.topic AND older.group_name = g.group_name
               AND older.ordering_key = held.ordering_key)
         ) AS blocked
  FROM held
  JOIN {{groupsTable}} g ON g.topic = held.topic
)
INSERT INTO {{table}} (topic, group_name, message_id, ordering_key, body, visible_at, published_at, blocked)
SELECT topic, group_name, message_id, ordering_key, body, visible_at, published_at, blocked
FROM fanned
ORDER BY id, group_name
