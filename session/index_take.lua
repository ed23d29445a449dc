-- Take every session out of a user's index, atomically.
-- KEYS[1] index. Returns the members.
local m = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return m
