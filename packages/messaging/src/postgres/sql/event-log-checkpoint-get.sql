-- postgresEventLog projections: a projection's stored checkpoint.
--   $1  text  checkpoint name
SELECT transaction_id::text AS transaction_id, position FROM {{checkpoints}} WHERE name = $1
