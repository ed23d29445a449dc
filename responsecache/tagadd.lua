-- Adds members to a tag set and makes sure the set lives at least as long
-- as the longest-lived member.
-- KEYS[1] tag set; ARGV[1] ttl in ms; ARGV[2..] members.
-- Returns the set's cardinality.
for i = 2, #ARGV do
  redis.call('SADD', KEYS[1], ARGV[i])
end
local ttl = tonumber(ARGV[1])
local cur = redis.call('PTTL', KEYS[1])
if cur >= 0 and cur < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif cur == -1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('SCARD', KEYS[1])
