-- rediware ratelimit: the fast path for a limiter with one GCRA policy.
-- Same arguments and reply as allow.lua (see there), for exactly one key;
-- the same arithmetic, without the generality that costs Lua time.

local now
if ARGV[2] == "" then
  if not redis.REDIS_VERSION_NUM then redis.replicate_commands() end
  local t = redis.call("TIME")
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[2])
end
local n, R, P, B = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local EPS = 1e-6
local T = P / R
local tau = B * T
local key = KEYS[1]
local tat = tonumber(redis.call("GET", key))
if not tat or tat < now then tat = now end
local new_tat = tat + n * T
local allow_at = new_tat - tau
if allow_at <= now + EPS then
  local reset = new_tat - now
  if n > 0 then
    local ms = math.ceil(reset / 1000)
    if ms < 1 then ms = 1 end
    redis.call("SET", key, string.format("%.17g", new_tat), "PX", ms)
  end
  local rem = math.floor((now - allow_at) / T + EPS)
  if rem < 0 then rem = 0 end
  if reset > 0 then reset = math.ceil(reset - EPS) else reset = 0 end
  return {1, 1, rem, 0, reset}
end
local rem = math.floor((now - tat + tau) / T + EPS)
if rem < 0 then rem = 0 elseif rem > B then rem = B end
local retry = -1
if n <= B then retry = math.ceil(allow_at - now - EPS) end
local reset = tat - now
if reset > 0 then reset = math.ceil(reset - EPS) else reset = 0 end
return {0, 0, rem, retry, reset}
