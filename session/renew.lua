-- Mark a session whose token is being renewed by Refresh: its data is
-- replaced by a tombstone that no load accepts (the old token is dead at
-- once), but the key lives on, with its TTL, until the renewed session is
-- saved, so that a revocation meanwhile (which deletes it) is seen then.
-- KEYS[1] session key; ARGV[1] tombstone. Returns 1, or 0 if the key is
-- already gone (revoked, destroyed or expired).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
