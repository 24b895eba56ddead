-- One partition's part of outbox-claim-partition-merge.sql: its first rows in position order,
-- from the index of the partition count (the count and the partition are written in as integer
-- literals: the planner matches the index by its expression, constants included).
(SELECT outbox.position, outbox.envelope, outbox.id, outbox.topic, outbox.key, outbox.created_at, {{partition}} AS partition
  FROM {{table}} AS outbox
  WHERE (hashtext(coalesce(outbox.key, outbox.topic)) & 2147483647) % {{partitions}} = {{partition}}
    AND outbox.topic <> ALL($2::text[])
    AND outbox.position <> ALL($3::bigint[])
  ORDER BY outbox.position
  LIMIT $1)
