-- Records an entry as a member of a tag.
-- KEYS[1]: the tag's member set (sorted by expiry), KEYS[2]: its version
-- ARGV[1]: the entry's key, ARGV[2]: its expiry (Unix ms),
-- ARGV[3]: now (Unix ms), ARGV[4]: the entry's ttl (ms)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
-- prune members that have expired
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
-- the version must outlive every entry stamped with it
local vt = redis.call('PTTL', KEYS[2])
if vt ~= -2 and vt < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
