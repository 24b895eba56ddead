-- Adds a cache key to a tag's set and makes the set live at least as long as that entry.
-- KEYS[1] the tag set
-- ARGV[1] the cache key (the member)
-- ARGV[2] the entry's remaining lifetime in ms
-- Returns 1.
redis.call('SADD', KEYS[1], ARGV[1])
-- PTTL is -1 for a set without expiry (just made): it gets the entry's lifetime.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
