-- Write a session with an absolute expiry, as scs/redisstore does (SET then
-- PEXPIREAT in MULTI), in one command.
-- KEYS[1] session key; ARGV[1] value; ARGV[2] expiry, unix milliseconds;
-- ARGV[3] "1" to write only if the key still exists (a loaded session).
-- Returns "OK", or nil when ARGV[3] is "1" and the key is gone.
if ARGV[3] == '1' then
  return redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PXAT', ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
