-- One write of the lease holder: updates the run and appends its entries in one statement, only
-- if $2 still owns the run (fencing: a taken-over orchestrator writes nothing).
-- $1 id, $2 owner, $3 status (null keeps it), $4 release (owner := null, lease_until := 0),
-- $5 lease_until, $6 wake_at (null clears it), $7 at (updated_at),
-- $8 entries: json array of { at, kind, step?, attempt?, data? }, numbered after the run's last seq.
-- Returns one row: updated = 1, or 0 when $2 does not own the run (nothing was written).
WITH run AS (
  UPDATE {{sagas}} SET
    status = coalesce($3::text, status),
    owner = CASE WHEN $4::boolean THEN NULL ELSE owner END,
    lease_until = CASE WHEN $4::boolean THEN 0 ELSE $5::bigint END,
    wake_at = $6::bigint,
    updated_at = $7::bigint,
    seq = seq + jsonb_array_length($8::jsonb)
  WHERE id = $1 AND owner = $2
  RETURNING id, seq - jsonb_array_length($8::jsonb) AS base
), timeline AS (
  INSERT INTO {{entries}} (saga_id, seq, at, kind, step, attempt, data)
  SELECT run.id, run.base + entry.ord, (entry.value->>'at')::bigint, entry.value->>'kind', entry.value->>'step',
         (entry.value->>'attempt')::integer, entry.value->'data'
  FROM run, jsonb_array_elements($8::jsonb) WITH ORDINALITY AS entry(value, ord)
)
SELECT count(*)::integer AS updated FROM run;
