-- Removes and returns up to ARGV[1] members of the tag set KEYS[1].
return redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
