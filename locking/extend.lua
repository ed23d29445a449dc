-- Set a new TTL on the lock if it is still held with this value.
-- KEYS[1] owner key; ARGV[1] owner value, ARGV[2] ttl in milliseconds.
-- Returns 1 if extended, 0 if not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
