-- Record a session in its user's index and prune the index.
-- KEYS[1] index (sorted set: member = session id, score = the session's
-- absolute deadline in unix ms); ARGV[1] member; ARGV[2] deadline ms;
-- ARGV[3] now ms.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
return 1
