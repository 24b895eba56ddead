-- postgresEventLog projections: forgets a checkpoint (a finished or abandoned rebuild's).
--   $1  text  checkpoint name
DELETE FROM {{checkpoints}} WHERE name = $1
