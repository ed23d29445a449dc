-- Acquire a lock and issue its fencing token in one step.
-- KEYS[1] owner key, KEYS[2] fence key (same hash tag)
-- ARGV[1] owner value (token .. metadata), ARGV[2] ttl in milliseconds,
-- ARGV[3] lifetime of the fence counter in milliseconds
-- Returns the fence (> 0) when acquired; when not, minus the holder's PTTL
-- in milliseconds (< 0), or 0 if the holder's key has no expiry.
--
-- The fence is a counter that INCR makes grow by one per acquisition. When
-- the counter is missing (first use, expired, or lost in a restart without
-- persistence), it starts from the server time in microseconds, so that it
-- still exceeds every fence issued before, as long as the server clock does
-- not run backwards and the key saw fewer acquisitions than microseconds
-- passed. That is also why the counter may expire (ARGV[3] after it was
-- seeded; INCR keeps the TTL): keys of locks no longer used do not pile up.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  if fence == 1 then
    local t = redis.call('TIME')
    fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', KEYS[2], string.format('%.0f', fence), 'PX', ARGV[3])
  end
  return fence
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 1 then
  return 0
end
return -pttl
