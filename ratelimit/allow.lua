-- rediware ratelimit: one decision over one or more policies, all or nothing.
--
-- KEYS[i]  state of policy i; all keys share one hash tag (one Cluster slot).
-- ARGV[1]  cost n (integer >= 0; 0 inspects without consuming)
-- ARGV[2]  "" to read the clock with TIME (production), or a time in
--          microseconds (tests only, through an unexported hook)
-- ARGV[3+4(i-1)..6+4(i-1)]  algorithm, rate, period (microseconds), burst
--          of policy i. Algorithms: 1 fixed window, 2 sliding window log,
--          3 sliding window counter, 4 token bucket, 5 GCRA.
--
-- Reply: {allowed, then for each policy: fits, remaining, retry_us, reset_us}
--   fits       1 if this policy alone would admit the request; a cost of 0
--              always fits, even where a count exceeds the rate (a policy
--              whose Rate was lowered under the same name)
--   remaining  whole units left: after consuming if the request is allowed,
--              before (nothing consumed) if it is denied
--   retry_us   0 if it fits, -1 if it never can (n exceeds the capacity),
--              else microseconds until it would fit (rounded up, at least 1)
--   reset_us   microseconds until the policy is back to its full quota
--
-- Nothing is written unless every policy admits the request. Every key
-- written gets a PEXPIRE of at least 1 ms. The code is flat (no closures,
-- no per-call tables beyond the reply) because every microsecond of Lua is
-- a microsecond of latency for every client of this Redis.

local n = tonumber(ARGV[1])
local now
if ARGV[2] == "" then
  -- Redis < 5 replicates scripts verbatim and refuses writes after TIME
  -- unless effects replication is switched on; 5+ does it by default and
  -- 7 deprecates the call (REDIS_VERSION_NUM exists from 7.0 on).
  if not redis.REDIS_VERSION_NUM then redis.replicate_commands() end
  local t = redis.call("TIME")
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[2])
end

local EPS = 1e-6
local floor, ceil, fmt = math.floor, math.ceil, string.format
local call = redis.call

-- out[o..o+3] per policy; w[i] holds what the commit needs.
local np = #KEYS
local out = {1}
local all = true
local W = {} -- W[3i-2..3i]: what the commit of policy i needs

for i = 1, np do
  local a = 3 + 4 * (i - 1)
  local alg, R, P, B = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local key = KEYS[i]
  local fits, rem, retry, reset
  if alg == 5 then -- GCRA
    local T = P / R
    local tau = B * T
    local tat = tonumber(call("GET", key))
    if not tat or tat < now then tat = now end
    local allow_at = tat + n * T - tau
    fits = allow_at <= now + EPS
    retry = 0
    if not fits then
      if n > B then retry = -1 else retry = allow_at - now end
    end
    rem = floor((now - tat + tau) / T + EPS)
    if rem > B then rem = B end
    reset = tat - now
    W[3*i-2] = tat + n * T
  elseif alg == 4 then -- token bucket
    local v = call("HMGET", key, "t", "ts")
    local tokens = B
    if v[1] then
      local el = now - tonumber(v[2])
      if el < 0 then el = 0 end
      tokens = tonumber(v[1]) + el * R / P
      if tokens > B then tokens = B end
    end
    fits = tokens + EPS >= n
    retry = 0
    if not fits then
      if n > B then retry = -1 else retry = (n - tokens) * P / R end
    end
    rem = floor(tokens + EPS)
    reset = (B - tokens) * P / R
    W[3*i-2] = tokens
  elseif alg == 1 then -- fixed window
    local win = floor(now / P)
    local wend = (win + 1) * P
    local v = call("HMGET", key, "w", "c")
    local c = 0
    if v[1] and tonumber(v[1]) == win then c = tonumber(v[2]) end
    fits = n == 0 or c + n <= R
    retry = 0
    if not fits then
      if n > R then retry = -1 else retry = wend - now end
    end
    rem = R - c
    reset = 0
    if c > 0 then reset = wend - now end
    W[3*i-2], W[3*i-1], W[3*i] = win, c, wend
  elseif alg == 2 then -- sliding window log
    call("ZREMRANGEBYSCORE", key, "-inf", fmt("%.17g", now - P))
    local count = call("ZCARD", key)
    local newest = now
    if count > 0 then
      newest = tonumber(call("ZRANGE", key, -1, -1, "WITHSCORES")[2])
    end
    fits = n == 0 or count + n <= R
    retry = 0
    if not fits then
      if n > R then
        retry = -1
      else
        local j = count + n - R - 1
        retry = tonumber(call("ZRANGE", key, j, j, "WITHSCORES")[2]) + P - now
      end
    end
    rem = R - count
    reset = 0
    if count > 0 then reset = newest + P - now end
    W[3*i-2], W[3*i-1] = count, newest
  else -- sliding window counter
    local win = floor(now / P)
    local ws = win * P
    local e = now - ws
    local v = call("HMGET", key, "w", "c", "p")
    local cur, prev = 0, 0
    if v[1] then
      local sw = tonumber(v[1])
      if sw == win then
        cur, prev = tonumber(v[2]), tonumber(v[3] or 0)
      elseif sw == win - 1 then
        prev = tonumber(v[2])
      end
    end
    -- the estimate times P, as one product so the weight is never rounded
    local estP = prev * (P - e) + cur * P
    fits = n == 0 or estP + n * P <= R * P
    retry = 0
    if not fits then
      if n > R then
        retry = -1
      elseif cur + n > R then
        retry = (ws + P - now) + ceil(P * (cur + n - R) / cur)
      else
        retry = ceil(P - (R - cur - n) * P / prev - e)
      end
    end
    rem = floor(R - estP / P + EPS)
    reset = 0
    if cur > 0 then reset = ws + 2 * P - now elseif prev > 0 then reset = ws + P - now end
    W[3*i-2], W[3*i-1], W[3*i] = win, cur, prev
  end
  if not fits then all = false end
  local o = 4 * i - 2
  out[o], out[o + 1], out[o + 2], out[o + 3] = fits and 1 or 0, rem, retry, reset
end

-- PEXPIRE/PX argument: milliseconds rounded up, at least 1. An integer
-- below 1e14 survives redis.call's %.14g formatting exactly.
local function ms(us)
  local m = ceil(us / 1000)
  if m < 1 then m = 1 end
  return m
end

if not all then
  out[1] = 0
elseif n > 0 then
  for i = 1, np do
    local a = 3 + 4 * (i - 1)
    local alg, R, P, B = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local key = KEYS[i]
    local o = 4 * i - 2
    local rem, reset
    if alg == 5 then
      -- %.17g: redis.call would format a number with %.14g and lose digits.
      local new_tat = W[3*i-2]
      local T = P / R
      reset = new_tat - now
      call("SET", key, fmt("%.17g", new_tat), "PX", ms(reset))
      rem = floor((now - new_tat + B * T) / T + EPS)
    elseif alg == 4 then
      local left = W[3*i-2] - n
      if left < 0 then left = 0 end
      reset = (B - left) * P / R
      call("HSET", key, "t", fmt("%.17g", left), "ts", fmt("%.17g", now))
      call("PEXPIRE", key, ms(reset))
      rem = floor(left + EPS)
    elseif alg == 1 then
      local c, wend = W[3*i-1], W[3*i]
      call("HSET", key, "w", fmt("%.17g", W[3*i-2]), "c", fmt("%d", c + n))
      reset = wend - now
      call("PEXPIRE", key, ms(reset))
      rem = R - c - n
    elseif alg == 2 then
      local count, t = W[3*i-2], W[3*i-1]
      -- A clock that stepped back must not reuse a (time, index) member.
      if now > t then t = now end
      local ts = fmt("%.17g", t)
      for j = 1, n do
        call("ZADD", key, ts, ts .. ":" .. (count + j))
      end
      reset = t + P - now
      call("PEXPIRE", key, ms(reset))
      rem = R - count - n
    else
      local win, cur, prev = W[3*i-2], W[3*i-1], W[3*i]
      local ws = win * P
      call("HSET", key, "w", fmt("%.17g", win), "c", fmt("%d", cur + n), "p", fmt("%d", prev))
      reset = ws + 2 * P - now
      call("PEXPIRE", key, ms(reset))
      rem = floor(R - (prev * (P - (now - ws)) + (cur + n) * P) / P + EPS)
    end
    out[o + 1], out[o + 3] = rem, reset
  end
end

-- Integer replies: times rounded up; remaining never below 0.
for i = 1, np do
  local o = 4 * i - 2
  if out[o + 1] < 0 then out[o + 1] = 0 end
  -- a wait below the EPS tolerance still rounds up to 1 µs, never to 0
  if out[o + 2] > 0 then out[o + 2] = math.max(ceil(out[o + 2] - EPS), 1) end
  if out[o + 3] > 0 then out[o + 3] = ceil(out[o + 3] - EPS) else out[o + 3] = 0 end
end
return out
