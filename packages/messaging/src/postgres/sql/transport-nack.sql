-- postgresTransport: gives deliveries back (nack, or close of a subscription), visible again
-- after a delay.
--   $1  bigint[]  row ids
--   $2  int[]     the delivery_count each was claimed with (fencing, as in ack)
--   $3  float8    delay in ms before they may be claimed again (0: at once)
--   $4  text      synchronous_commit for this transaction ('off' by default, see transport-ack.sql)
UPDATE {{table}} m
SET visible_at = now() + make_interval(secs => $3::float8 / 1000)
FROM unnest($1::bigint[], $2::int[]) AS given(id, delivery_count),
     (SELECT set_config('synchronous_commit', $4, true)) AS commit_mode
WHERE m.id = given.id AND m.delivery_count = given.delivery_count
