-- Remaining TTL of the lock in milliseconds if it is held with this value.
-- KEYS[1] owner key; ARGV[1] owner value. Returns -3 if not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PTTL', KEYS[1])
end
return -3
