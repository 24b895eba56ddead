-- How many runs are in each status.
SELECT status, count(*)::integer AS count FROM {{sagas}} GROUP BY status;
