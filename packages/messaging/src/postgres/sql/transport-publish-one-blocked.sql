-- postgresTransport: `blocked` of the row of a lone keyed message for group g, in
-- transport-publish-one.sql rendered as sql.publishOneKeyed: an older row of its key is in the group.
g.group_name IS NOT NULL AND EXISTS (
  SELECT 1 FROM {{table}} older
  WHERE older.topic = $1::text AND older.group_name = g.group_name AND older.ordering_key = $3::text)
