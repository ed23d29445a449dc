-- Invalidates a tag: gives it a new version, so that every entry stamped
-- with an older one reads as stale, and returns (and forgets) its members so
-- the caller can delete them.
-- KEYS[1]: the tag's member set, KEYS[2]: its version
-- ARGV[1]: the least ttl of the version (ms)
--
-- A version is never handed out twice, even after the version key was lost
-- (expired, or evicted under maxmemory with the member set): the new
-- version is the old one plus one, or Redis's clock in milliseconds if that
-- is larger. A plain INCR would restart at 1 after a loss and revive every
-- entry still stamped 1.
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local mt = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = (tonumber(redis.call('GET', KEYS[2]) or '0') or 0) + 1
if now > v then
  v = now
end
redis.call('SET', KEYS[2], string.format('%d', v), 'KEEPTTL')
local want = tonumber(ARGV[1])
if mt > want then
  want = mt
end
local vt = redis.call('PTTL', KEYS[2])
if vt < want then
  redis.call('PEXPIRE', KEYS[2], want)
end
return members
