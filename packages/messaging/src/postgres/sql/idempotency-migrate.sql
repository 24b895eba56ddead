-- postgresIdempotencyStore (@bulwark/messaging/postgres): creates the idempotency table and the
-- index the sweeper uses. Idempotent: `migrate()` runs it at every start, inside a transaction
-- holding an advisory lock so that instances starting together do not race on CREATE.
--   {{table}}        the (optionally schema-qualified, quoted) table name
--   {{expiresIndex}} the quoted name of the expiry index
-- Columns:
--   status            'in-progress' (a caller holds the lease) or 'completed' (outcome stored)
--   lease_token       the holder's token while in progress; only it may complete or release
--   lease_expires_at  end of the lease; after it another caller may take the key over
--   outcome           the stored outcome (bytes, opaque to the store)
--   expires_at        when the row stops counting: the lease end while in progress, the ttl after
CREATE TABLE IF NOT EXISTS {{table}} (
  key               text        PRIMARY KEY,
  fingerprint       text        NOT NULL,
  status            text        NOT NULL CHECK (status IN ('in-progress', 'completed')),
  lease_token       text,
  lease_expires_at  timestamptz,
  outcome           bytea,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {{expiresIndex}} ON {{table}} (expires_at);
