-- postgresEventLog.append(): inserts events in the caller's transaction, in the given order.
--   $1  jsonb  array of { id, stream, type, data, headers }
-- position comes from the identity sequence, transaction_id from pg_current_xact_id().
INSERT INTO {{table}} (id, stream, type, data, headers)
SELECT event->>'id', event->>'stream', event->>'type', event->'data', event->'headers'
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS given (event, ordinal)
ORDER BY ordinal
