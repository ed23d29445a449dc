-- Removes members ARGV[1..] from the tag set KEYS[1].
local n = 0
for i = 1, #ARGV do
  n = n + redis.call('SREM', KEYS[1], ARGV[i])
end
return n
