-- Returns up to ARGV[1] random members of the tag set KEYS[1].
return redis.call('SRANDMEMBER', KEYS[1], tonumber(ARGV[1]))
