-- postgresOutbox relay with `partitions` above 1, where the table has the index of that partition
-- count (outbox-partition-index.sql): the start condition of outbox-claim-partitions.sql, which
-- starts its walk at the first row this member can read instead of the oldest row of the table.
-- The index finds each held partition's first readable row (one probe per partition); the read
-- then walks the primary key from the earliest of them. Rows of other members' partitions ahead of
-- that point (the backlog of a member that lags or whose topic keeps failing) are skipped; those
-- among its own rows are still passed over, about partitions / held per row returned, which costs
-- no more than reading the partitions from the index one scan each and merging them (measured:
-- `pnpm bench:built outbox.fleet-read`).
-- The probe asks for the index's own order, (partition, position), with the partition as a range:
-- only the partition index gives that order without a sort (turned off for the relay's session,
-- outbox-session.sql), so the planner cannot take a walk of the primary key for it. Asked for
-- position order alone, PostgreSQL 15 did walk the primary key once the table was analyzed (at the
-- default random_page_cost): 4 walks past the backlog instead of 4 probes.
-- The partition count is written in as an integer literal (the partitions placeholder): the planner
-- matches the index by its expression, constants included.
--   $2, $3, $5  as in outbox-claim-partitions.sql
outbox.position >= (
  SELECT min(first.position)
  FROM unnest($5::int[]) AS held(partition)
  CROSS JOIN LATERAL (
    SELECT candidate.position
    FROM {{table}} AS candidate
    WHERE (hashtext(coalesce(candidate.key, candidate.topic)) & 2147483647) % {{partitions}}
        BETWEEN held.partition AND held.partition
      AND candidate.topic <> ALL($2::text[])
      AND candidate.position <> ALL($3::bigint[])
    ORDER BY (hashtext(coalesce(candidate.key, candidate.topic)) & 2147483647) % {{partitions}}, candidate.position
    LIMIT 1
  ) AS first
)
