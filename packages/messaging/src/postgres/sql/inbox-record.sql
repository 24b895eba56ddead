-- postgresInbox handler, inside the handler's transaction: records a message id as handled.
--   $1  text  consumer group
--   $2  text  message id
-- One row returned when recorded; none when the id was already handled (a duplicate). A copy
-- being handled concurrently holds the key: this waits for its transaction, then returns none
-- if it committed, or records the id if it rolled back.
INSERT INTO {{table}} (consumer_group, message_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING 1 AS recorded
