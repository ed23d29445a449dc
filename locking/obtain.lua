-- Acquire a lock and issue its fencing token in one step.
-- KEYS[1] owner key, KEYS[2] fence key (same hash tag)
-- ARGV[1] owner value (token .. metadata), ARGV[2] ttl in milliseconds
-- Returns {fence, ttl}: fence > 0 when acquired; {0, holder's pttl} when not.
--
-- The fence is max(stored + 1, server time in microseconds). The counter
-- alone would grow strictly; seeding it from the clock keeps it growing even
-- after Redis lost the fence key (restart without persistence, failover to
-- a lagging replica), as long as the server clocks do not run backwards.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  local fence = cur + 1
  if now > fence then
    fence = now
  end
  redis.call('SET', KEYS[2], string.format('%.0f', fence))
  return {fence, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
