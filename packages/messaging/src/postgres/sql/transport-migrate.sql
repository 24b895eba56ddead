-- postgresTransport (@bulwark/messaging/postgres): creates the message and group tables. Idempotent:
-- `migrate()` runs it at every start, in a transaction holding an advisory lock so instances
-- starting together do not race on CREATE.
--   {{table}}        the (optionally schema-qualified, quoted) message table
--   {{groupsTable}}  the (optionally schema-qualified, quoted) consumer group table
--   {{claimIndex}}   the quoted name of the index the claim scans
--   {{keyIndex}}     the quoted name of the index the per-key ordering check probes
--   {{blockedIndex}} the quoted name of the index of rows waiting behind the head of their key
-- One row of {{table}} is one message waiting for one consumer group: publish copies each message
-- once per group of its topic (fan-out), ack deletes the row. Columns:
--   id              publish order (a bigserial); claims take the oldest visible rows first
--   ordering_key    groupId ?? key of the envelope; only the oldest row of a key may be out
--   blocked         true while an older row of the same key is in the group: such rows stay out
--                   of the claim index, so a hot key with thousands of waiting messages costs a
--                   claim nothing. Set at publish, cleared for the next row when its
--                   predecessor is acked (and by transport-unblock.sql, which repairs a race)
--   visible_at      when the row may be claimed: now for a fresh message, later for a delayed
--                   publish or nack, and now() + visibility timeout while a subscriber holds it
--   delivery_count  claims so far; also the fencing token of ack/nack (a stale holder's ack
--                   matches no row once another subscriber claimed the message again)
CREATE TABLE IF NOT EXISTS {{groupsTable}} (
  topic       text        NOT NULL,
  group_name  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, group_name)
);
CREATE TABLE IF NOT EXISTS {{table}} (
  id              bigserial   PRIMARY KEY,
  topic           text        NOT NULL,
  group_name      text        NOT NULL,
  message_id      text        NOT NULL,
  ordering_key    text,
  body            bytea       NOT NULL,
  visible_at      timestamptz NOT NULL DEFAULT now(),
  delivery_count  integer     NOT NULL DEFAULT 0,
  blocked         boolean     NOT NULL DEFAULT false,
  published_at    timestamptz NOT NULL DEFAULT now()
);
-- Tables made by the first pre-release lacked `blocked`.
ALTER TABLE {{table}} ADD COLUMN IF NOT EXISTS blocked boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS {{claimIndex}} ON {{table}} (topic, group_name, id) WHERE NOT blocked;
CREATE INDEX IF NOT EXISTS {{keyIndex}} ON {{table}} (topic, group_name, ordering_key, id)
  WHERE ordering_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS {{blockedIndex}} ON {{table}} (topic, group_name, id) WHERE blocked;
