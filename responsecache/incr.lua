-- Increments the purge epoch KEYS[1].
return redis.call('INCR', KEYS[1])
