-- Acquire a lock and issue its fencing token in one step.
-- KEYS[1] owner key, KEYS[2] fence key (same hash tag)
-- ARGV[1] owner value (token .. metadata), ARGV[2] ttl in milliseconds
-- Returns {fence, ttl}: fence > 0 when acquired; {0, holder's pttl} when not.
--
-- The fence is a counter that INCR makes grow by one per acquisition. When
-- the counter is missing (first use, or Redis lost its data in a restart
-- without persistence), it starts from the server time in microseconds, so
-- that it still exceeds every fence issued before the loss as long as the
-- server clock does not run backwards and fewer than a million locks per
-- second were taken on this key.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  if fence == 1 then
    local t = redis.call('TIME')
    fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', KEYS[2], string.format('%.0f', fence))
  end
  return {fence, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
