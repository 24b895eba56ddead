-- postgresTransport.declareGroup() and subscribe(): creates a consumer group of a topic, so every
-- message published from now on gets a row for it.
--   $1  text  topic
--   $2  text  group
INSERT INTO {{groupsTable}} (topic, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING
