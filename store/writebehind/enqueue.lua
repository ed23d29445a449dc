-- Enqueues a write: records it as the latest value of its key, and appends
-- a stream entry that points at it. A write whose idempotency key was seen
-- within the dedup window is not enqueued again (a window of 0: generated
-- keys, which cannot repeat, are not remembered).
-- KEYS[1] stream, KEYS[2] latest (hash: key -> "seq|payload"),
-- KEYS[3] seq counter, KEYS[4] the idempotency marker
-- ARGV[1] key, ARGV[2] payload, ARGV[3] idempotency key,
-- ARGV[4] dedup window (ms), ARGV[5] the most entries the stream may hold
-- (0: unbounded)
-- Returns {stream id, seq}, {"", 0} for a duplicate, or {"", -1} when the
-- queue is full (checked first, so a refused write does not use up its
-- idempotency key).
if ARGV[5] ~= '0' and redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return {'', -1}
end
if ARGV[4] ~= '0' and redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[4]) == false then
  return {'', 0}
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], ARGV[1], seq .. '|' .. ARGV[2])
local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[1], 's', seq, 'i', ARGV[3])
return {id, seq}
