-- rediware ratelimit: a batch of decisions for a limiter with one GCRA
-- policy (Options.Batch). Each decision runs gcra.lua's arithmetic, line for
-- line, in arrival order; what this script saves is the per-decision Lua
-- work that does not depend on the decision: the clock, the policy's
-- constants, and one GET per key (one MGET for the batch, and one EXISTS
-- over the keys MGET finds empty; a key decided twice in a batch sees the
-- value the earlier decision wrote).
--
-- KEYS[r]   the key of decision r
-- ARGV[1]   "" (TIME) or a time in microseconds (tests)
-- ARGV[2]   1 (policies; always one here)
-- ARGV[3..6]  algorithm, rate, period (microseconds), burst, as in allow.lua
-- ARGV[6+r] the cost of decision r
--
-- Reply: gcra.lua's replies, concatenated; a decision whose key holds a
-- value of another type has the WRONGTYPE error's text in place of its
-- "allowed" element, and fails alone, as it would with gcra.lua.

local now
if ARGV[1] == "" then
  if not redis.REDIS_VERSION_NUM then redis.replicate_commands() end
  local t = redis.call("TIME")
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[1])
end
local R, P, B = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local EPS = 1e-6
local T = P / R
local tau = B * T
local floor, ceil, fmt, call = math.floor, math.ceil, string.format, redis.call
local nk = #KEYS
-- MGET gives nil both for a missing key and for a value of another type,
-- where gcra.lua's GET fails with WRONGTYPE. One EXISTS over the keys MGET
-- finds empty tells whether any holds such a value (foreign); only then are
-- they read again, each with GET, for that decision alone to fail the same
-- way (and the foreign value not to be overwritten). Chunks of 1000 keys:
-- unpack has a limit on the number of values (a large BatchSize).
local vals, foreign = {}, false
for i = 1, nk, 1000 do
  local j = math.min(i + 999, nk)
  local v = call("MGET", unpack(KEYS, i, j))
  local empty, ne = {}, 0
  for r = i, j do
    local x = v[r - i + 1]
    vals[r] = x
    if not x then ne = ne + 1; empty[ne] = KEYS[r] end
  end
  if ne > 0 and not foreign then foreign = call("EXISTS", unpack(empty)) > 0 end
end
local seen = {}
local out, m = {}, 0
for r = 1, nk do
  local key = KEYS[r]
  local n = tonumber(ARGV[6 + r])
  local tat = seen[key]
  local failed
  if tat == nil then
    tat = vals[r]
    if not tat and foreign then
      local ok, v = pcall(call, "GET", key)
      if ok then tat = v else failed = v end
    end
    tat = tonumber(tat) or false
  end
  if failed then
    if type(failed) == "table" then failed = failed.err end
    out[m + 1], out[m + 2], out[m + 3], out[m + 4], out[m + 5] = tostring(failed), 0, 0, 0, 0
  else
    if not tat or tat < now then tat = now end
    local new_tat = tat + n * T
    local allow_at = new_tat - tau
    if allow_at <= now + EPS then
      local reset = new_tat - now
      if n > 0 then
        local ms = ceil(reset / 1000)
        if ms < 1 then ms = 1 end
        call("SET", key, fmt("%.17g", new_tat), "PX", ms)
        seen[key] = new_tat
      end
      local rem = floor((now - allow_at) / T + EPS)
      if rem < 0 then rem = 0 end
      if reset > 0 then reset = ceil(reset - EPS) else reset = 0 end
      out[m + 1], out[m + 2], out[m + 3], out[m + 4], out[m + 5] = 1, 1, rem, 0, reset
    else
      local rem = floor((now - tat + tau) / T + EPS)
      if rem < 0 then rem = 0 elseif rem > B then rem = B end
      local retry = -1
      if n <= B then retry = ceil(allow_at - now - EPS) end
      local reset = tat - now
      if reset > 0 then reset = ceil(reset - EPS) else reset = 0 end
      out[m + 1], out[m + 2], out[m + 3], out[m + 4], out[m + 5] = 0, 0, rem, retry, reset
    end
  end
  m = m + 5
end
return out
