-- Whether a session is still in its user's index.
-- KEYS[1] index; ARGV[1] member. Returns 1 or 0.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
return 0
