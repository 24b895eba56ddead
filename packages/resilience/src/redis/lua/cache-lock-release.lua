-- Releases a cache lock only if the caller still holds it (its token), so a holder whose lease
-- expired cannot free the lock another process took since.
-- KEYS[1] the lock key
-- ARGV[1] the holder's token
-- Returns 1 when released, 0 when the lock was gone or held by another token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
