-- Finishes a stream entry after the database write (or after giving up):
-- optionally copies it to the dead-letter stream, acknowledges and deletes
-- it, and forgets the key's latest value if no newer write replaced it,
-- leaving a short-lived marker of the seq that was last finished for the
-- key (so that a Write whose cache update comes late can tell whether a
-- newer write has been finished meanwhile).
-- KEYS[1] stream, KEYS[2] latest, KEYS[3] attempts, KEYS[4] dead letters,
-- KEYS[5] the key's finished marker
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] key, ARGV[4] seq,
-- ARGV[5] "1" to dead-letter, ARGV[6] error, ARGV[7] idempotency key,
-- ARGV[8] the marker's ttl (ms), ARGV[9] the dead-letter stream's maximum
-- length (0: unbounded), ARGV[10] the maximum age of a dead letter (ms, 0:
-- no age bound)
local cur = redis.call('HGET', KEYS[2], ARGV[3])
if ARGV[5] == '1' then
  local payload = ''
  if cur then
    local s, p = string.match(cur, '^(%d+)|(.*)$')
    if s == ARGV[4] then payload = p end
  end
  local fields = {'k', ARGV[3], 's', ARGV[4], 'i', ARGV[7],
    'v', payload, 'err', ARGV[6], 'attempts', redis.call('HGET', KEYS[3], ARGV[2]) or '0'}
  -- Only the dead-letter stream is trimmed here, and only when a dead
  -- letter is added; the queue's stream loses an entry only by the XDEL
  -- after its XACK below.
  if ARGV[9] ~= '0' then
    redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[9], '*', unpack(fields))
  else
    redis.call('XADD', KEYS[4], '*', unpack(fields))
  end
  if ARGV[10] ~= '0' then
    local t = redis.call('TIME')
    local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[10])
    if cutoff > 0 then
      redis.call('XTRIM', KEYS[4], 'MINID', string.format('%d-0', cutoff))
    end
  end
end
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if cur then
  local s = string.match(cur, '^(%d+)|')
  if s == ARGV[4] then
    redis.call('HDEL', KEYS[2], ARGV[3])
    redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[8])
  end
end
return n
