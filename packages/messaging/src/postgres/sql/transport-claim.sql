-- postgresTransport subscription: claims up to $3 visible messages of one group for one
-- subscriber, oldest first, hiding them for the visibility timeout.
--   $1  text    topic
--   $2  text    group
--   $3  int     most rows to claim (the subscriber's free slots)
--   $4  float8  visibility timeout in ms
--   $5  text    synchronous_commit for this transaction: 'off' unless the user asked for
--               synchronous settlements (see transport-ack.sql for why 'off' is safe)
-- Returns the claimed rows (id, body, delivery_count, keyed, more), in no particular order:
-- `keyed` when the row has an ordering key (its ack unblocks the next row of the key), `more` (the
-- same on every row) when visible unblocked rows of the group come after the last row claimed, so
-- the subscriber claims again when a slot frees rather than after every handler (a claim that finds
-- nothing costs a round trip per message when one message is in flight at a time). Rows before it
-- that the claim left were locked by another subscriber's claim or wait behind their key: this
-- subscriber could not have them now. Looking only past the last row starts the index scan there
-- rather than at the head of the group, and needs no set of the claimed ids. `more` may say true
-- for rows another subscriber is claiming meanwhile: that costs an empty claim, never a row.
--
-- FOR UPDATE SKIP LOCKED lets competing subscribers claim side by side without waiting on each
-- other. Per-key order: rows behind the head of their key are `blocked` and not even scanned;
-- the NOT EXISTS check is the guarantee itself (a keyed row is claimable only if no older row of
-- its key is left in the group, rows being deleted on ack), so one message per key is out at a
-- time, in publish order, whatever the `blocked` flags say.
WITH candidates AS (
  SELECT m.id
  FROM {{table}} m
  WHERE m.topic = $1 AND m.group_name = $2 AND NOT m.blocked AND m.visible_at <= now()
    AND (m.ordering_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM {{table}} earlier
      WHERE earlier.topic = m.topic AND earlier.group_name = m.group_name
        AND earlier.ordering_key = m.ordering_key AND earlier.id < m.id))
  ORDER BY m.id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), left_over AS (
  SELECT EXISTS (
    SELECT 1 FROM {{table}} m
    WHERE m.topic = $1 AND m.group_name = $2 AND NOT m.blocked AND m.visible_at <= now()
      AND m.id > (SELECT max(id) FROM candidates)
  ) AS more
)
UPDATE {{table}} m
SET visible_at = now() + make_interval(secs => $4::float8 / 1000),
    delivery_count = m.delivery_count + 1
FROM candidates, left_over, (SELECT set_config('synchronous_commit', $5, true)) AS commit_mode
WHERE m.id = candidates.id
RETURNING m.id, m.body, m.delivery_count, m.ordering_key IS NOT NULL AS keyed, left_over.more
