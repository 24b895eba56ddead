-- Creates a run and its first entries in one statement, or changes nothing if the id exists.
-- $1 id, $2 name, $3 input (json text), $4 owner, $5 lease_until, $6 at,
-- $7 entries: json array of { at, kind, step?, attempt?, data? }, numbered from 1 in array order.
-- Returns one row: created = 1 when inserted, 0 when a run with this id already existed.
WITH run AS (
  INSERT INTO {{sagas}} (id, name, status, input, owner, lease_until, wake_at, seq, created_at, updated_at)
  VALUES ($1, $2, 'running', $3::jsonb, $4, $5::bigint, NULL, jsonb_array_length($7::jsonb), $6::bigint, $6::bigint)
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), timeline AS (
  INSERT INTO {{entries}} (saga_id, seq, at, kind, step, attempt, data)
  SELECT run.id, entry.ord, (entry.value->>'at')::bigint, entry.value->>'kind', entry.value->>'step',
         (entry.value->>'attempt')::integer, entry.value->'data'
  FROM run, jsonb_array_elements($7::jsonb) WITH ORDINALITY AS entry(value, ord)
)
SELECT count(*)::integer AS created FROM run;
