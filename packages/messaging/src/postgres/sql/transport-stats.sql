-- postgresTransport.snapshot(): depth of every consumer group.
-- Returns (topic, group_name, ready, in_flight_or_delayed, oldest_ms) per group with rows.
SELECT topic, group_name,
       count(*) FILTER (WHERE visible_at <= now())::int AS ready,
       count(*) FILTER (WHERE visible_at > now())::int AS invisible,
       coalesce((extract(epoch FROM now() - min(published_at)) * 1000)::float8, 0) AS oldest_ms
FROM {{table}}
GROUP BY topic, group_name
