-- Starts an attempt at a stream entry: counts it, and returns the latest
-- value of the entry's key.
-- KEYS[1] attempts (hash: entry id -> count), KEYS[2] latest
-- ARGV[1] entry id, ARGV[2] key
-- Returns {attempt, "seq|payload" or nil}.
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return {n, redis.call('HGET', KEYS[2], ARGV[2])}
