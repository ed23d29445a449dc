-- Returns the newest pending value of a key ("seq|payload"), or nil once it
-- has been applied.
-- KEYS[1] latest; ARGV[1] key
return redis.call('HGET', KEYS[1], ARGV[1])
