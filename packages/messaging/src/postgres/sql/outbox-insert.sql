-- postgresOutbox.add(): writes messages inside the caller's transaction.
--   $1  jsonb  an array of envelopes, in the order they must be published
-- `position` follows the array order (WITH ORDINALITY). The statement trigger notifies relays
-- when the transaction commits.
INSERT INTO {{table}} (id, topic, key, envelope)
SELECT message.envelope ->> 'id', message.envelope ->> 'topic', message.envelope ->> 'key', message.envelope
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS message(envelope, ordinal)
ORDER BY message.ordinal
