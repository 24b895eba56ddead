-- postgresAsyncReplyStore.create(): records a new pending operation unless a live one has its id.
--   $1  text    id
--   $2  text    kind
--   $3  bigint  now (ms), the creation time
--   $4  bigint  expires_at (ms)
-- Returns one row when created; none when a live record has the id. An expired record with the
-- id is replaced in place (the primary key makes concurrent creates of one id safe).
INSERT INTO {{table}} AS record (id, kind, status, created_at, updated_at, expires_at, attempts)
VALUES ($1, $2, 'pending', $3, $3, $4, 0)
ON CONFLICT (id) DO UPDATE
  SET kind = EXCLUDED.kind,
      status = 'pending',
      created_at = EXCLUDED.created_at,
      updated_at = EXCLUDED.updated_at,
      expires_at = EXCLUDED.expires_at,
      attempts = 0,
      started_at = NULL,
      finished_at = NULL,
      run_id = NULL,
      lease_until = NULL,
      result = NULL,
      result_claimed = NULL,
      error = NULL
  WHERE record.expires_at <= EXCLUDED.created_at
RETURNING record.id
