-- postgresTransport: wakes the subscribers of some topics, after their messages were committed.
--   $1  text    the NOTIFY channel
--   $2  text[]  topics (the notification payload; one notification each)
-- A transaction that only notifies writes no WAL, so it holds the notify lock only briefly.
-- Notifications coalesce: one per topic per tick, however many publishes there were.
SELECT pg_notify($1, topic) FROM unnest($2::text[]) AS topic
