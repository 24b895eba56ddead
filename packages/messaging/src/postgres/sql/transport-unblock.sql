-- postgresTransport subscription, when idle: unblocks rows that became the head of their key but
-- kept `blocked`. This repairs one race: a publish that saw the head of its key (so inserted its
-- row blocked) committing after the ack of that head looked for the next row to unblock.
--   $1  text  topic
--   $2  text  group
UPDATE {{table}} m SET blocked = false
WHERE m.topic = $1 AND m.group_name = $2 AND m.blocked
  AND NOT EXISTS (
    SELECT 1 FROM {{table}} earlier
    WHERE earlier.topic = m.topic AND earlier.group_name = m.group_name
      AND earlier.ordering_key = m.ordering_key AND earlier.id < m.id)
