-- Write a value guarded by a fencing token.
-- KEYS[1] a hash holding the value (field v) and the fence that wrote it (f).
-- ARGV[1] value, ARGV[2] fence, ARGV[3] ttl in milliseconds (0: none).
-- Returns {1, fence} when written, {0, stored fence} when the stored fence
-- is newer (the caller's lock was lost and a later holder has written).
local fence = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], 'f') or '0') or 0
if fence < cur then
  return {0, cur}
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'f', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return {1, fence}
