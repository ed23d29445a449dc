-- Write a session and its user's index entry atomically, on a single node
-- or when both keys share a Cluster slot (otherwise Redis answers CROSSSLOT
-- before running anything, and the store falls back to two calls).
-- KEYS[1] session key; KEYS[2] index key.
-- ARGV[1] value; ARGV[2] expiry, unix ms; ARGV[3] "1" to write only if the
-- session key still exists; ARGV[4] index member; ARGV[5] now, unix ms;
-- ARGV[6] the session's absolute deadline, unix ms (the index score).
-- Returns "OK", or nil when ARGV[3] is "1" and the session is gone.
local ok
if ARGV[3] == '1' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PXAT', ARGV[2])
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
end
if not ok then
  redis.call('ZREM', KEYS[2], ARGV[4])
  return ok
end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[2], last[2])
end
return ok
