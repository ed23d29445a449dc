-- Writes an entry unless another writer got there first.
-- KEYS[1]: the entry
-- ARGV[1]: the 8-byte stamp of the entry this writer read ("" if none)
-- ARGV[2]: the new envelope
-- ARGV[3]: ttl in milliseconds
-- The write happens when the key is absent, or still holds the entry that
-- was read (same stamp at offset 1..8). Returns 1 if written, 0 if not.
local cur = redis.call('GETRANGE', KEYS[1], 1, 8)
if cur ~= '' and cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
