-- postgresEventLog projections: stores a checkpoint, in the transaction of the read-model writes.
--   $1  text    checkpoint name
--   $2  bigint  transaction id
--   $3  bigint  position
INSERT INTO {{checkpoints}} (name, transaction_id, position) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
  SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
