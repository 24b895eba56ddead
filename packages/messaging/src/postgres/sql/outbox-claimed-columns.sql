-- postgresOutbox relay: the columns every read of the relay returns (outbox-claim.sql,
-- outbox-claim-skipping.sql, outbox-claim-partitions.sql put them in place of {{claimed_columns}}).
-- The envelope comes as text, with what the relay and the transports route by beside it: a
-- transport that takes ready-made JSON (publishJson) sends it unparsed.
outbox.position::text AS position,
  outbox.envelope::text AS json,
  outbox.id,
  outbox.topic,
  outbox.key,
  outbox.envelope ->> 'type' AS type,
  outbox.envelope ->> 'groupId' AS group_id,
  outbox.envelope -> 'headers' ->> 'correlationId' AS correlation_id
