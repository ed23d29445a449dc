-- Prune expired sessions from a user's index and list the rest.
-- KEYS[1] index; ARGV[1] now ms. Returns member, score, member, score, ...
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
