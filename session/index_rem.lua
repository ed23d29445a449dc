-- Remove sessions from a user's index; delete the index once empty.
-- KEYS[1] index; ARGV members. Returns how many were removed.
local n = redis.call('ZREM', KEYS[1], unpack(ARGV))
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
return n
