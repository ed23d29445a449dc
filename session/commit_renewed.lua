-- Save a session whose token Refresh renewed, in one call on a single node
-- (on Redis Cluster the keys are in different slots: CROSSSLOT before
-- anything runs, and the store falls back to separate calls).
-- KEYS[1] the new session key; KEYS[2] the old session key (its tombstone);
-- KEYS[3] the old user's index (used only if ARGV[8] is "1"); KEYS[4] the
-- new user's index (used only if ARGV[9] is "1").
-- ARGV[1] value; ARGV[2] expiry, unix ms; ARGV[3] "1" when a Login
-- followed (a new authentication: write even if the tombstone is gone);
-- ARGV[4] old index member; ARGV[5] new index member; ARGV[6] now, unix ms;
-- ARGV[7] the session's absolute deadline, unix ms (the index score);
-- ARGV[8] "1" to take the old member out of KEYS[3]; ARGV[9] "1" to enter
-- the new member in KEYS[4].
-- Returns 2 when saved, 1 when saved though the tombstone was gone (Login),
-- 0 when the tombstone was gone (revoked meanwhile) and nothing was written.
local existed = redis.call('DEL', KEYS[2])
if ARGV[8] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[4])
  if redis.call('ZCARD', KEYS[3]) == 0 then
    redis.call('DEL', KEYS[3])
  end
end
if existed == 0 and ARGV[3] ~= '1' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if ARGV[9] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[6])
  local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', KEYS[4], last[2])
  end
end
return existed + 1
