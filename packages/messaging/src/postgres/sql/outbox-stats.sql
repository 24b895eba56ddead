-- postgresOutbox.lag(): how far the relays are behind.
-- Returns pending (committed rows not yet published) and oldest_age_ms (age of the oldest of
-- them, 0 when there is none). Counts every row: meant for dashboards, not for hot paths.
SELECT
  count(*)::float8 AS pending,
  coalesce((extract(epoch FROM clock_timestamp() - min(created_at)) * 1000)::float8, 0) AS oldest_age_ms
FROM {{table}}
