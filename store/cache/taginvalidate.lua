-- Invalidates a tag: bumps its version, so that every entry stamped with an
-- older one reads as stale, and returns (and forgets) its members so the
-- caller can delete them.
-- KEYS[1]: the tag's member set, KEYS[2]: its version
-- ARGV[1]: the least ttl of the version (ms)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local mt = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
local want = tonumber(ARGV[1])
if mt > want then
  want = mt
end
local vt = redis.call('PTTL', KEYS[2])
if vt < want then
  redis.call('PEXPIRE', KEYS[2], want)
end
return members
