-- postgresOutbox relay: removes rows once the transport has accepted their messages.
--   $1  bigint[]  positions of the published rows
-- A relay killed before this runs leaves the rows in place: they are published again
-- (at-least-once; consumers deduplicate by message id).
DELETE FROM {{table}} WHERE position = ANY($1::bigint[])
