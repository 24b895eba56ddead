-- postgresDeadLetterStore.add(): stores a dead letter; the same id again replaces the old copy.
--   $1  text   message id
--   $2  text   original topic
--   $3  jsonb  the envelope
INSERT INTO {{table}} (id, original_topic, message) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE
  SET original_topic = EXCLUDED.original_topic, message = EXCLUDED.message, stored_at = now()
