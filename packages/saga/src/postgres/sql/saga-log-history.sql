-- The timeline of run $1 in the order written. data is read as text so that a JSON null
-- (stored) stays distinct from no data (SQL NULL).
SELECT seq, at, kind, step, attempt, data::text AS data
FROM {{entries}} WHERE saga_id = $1 ORDER BY seq;
