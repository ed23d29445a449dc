-- Touch a session that this request read but did not change: write it back
-- (new last-write stamp, new expiry) only if it still holds the bytes this
-- request loaded, so that a concurrent request's change is never undone by
-- a mere read. That request's save has pushed the expiry forward already.
-- KEYS[1] session key; ARGV[1] the bytes loaded; ARGV[2] value; ARGV[3]
-- expiry, unix ms. Returns 1 when written, 0 when the session changed since
-- it was loaded (nothing written), nil when it is gone.
local cur = redis.call('GET', KEYS[1])
if not cur then
  return nil
end
if cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
