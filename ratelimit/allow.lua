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
--   fits       1 if this policy alone would admit the request
--   remaining  whole units left: after consuming if the request is allowed,
--              before (nothing consumed) if it is denied
--   retry_us   0 if it fits, -1 if it never can (n exceeds the capacity),
--              else microseconds until it would fit
--   reset_us   microseconds until the policy is back to its full quota
--
-- Nothing is written unless every policy admits the request. Every key
-- written gets a PEXPIRE of at least 1 ms.

local n = tonumber(ARGV[1])
local now
if ARGV[2] == "" then
  -- Redis < 5 replicates scripts verbatim and refuses writes after TIME
  -- unless effects replication is switched on; on 5+ it is the default.
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[2])
end

local EPS = 1e-6

-- Numbers passed to redis.call would be formatted with %.14g; keep every digit.
local function num(x) return string.format("%.17g", x) end
local function ms(us)
  local m = math.ceil(us / 1000)
  if m < 1 then m = 1 end
  return string.format("%d", m)
end
local function floor0(x)
  local f = math.floor(x + EPS)
  if f < 0 then f = 0 end
  return f
end
local function ceil0(x)
  local c = math.ceil(x - EPS)
  if c < 0 then c = 0 end
  return c
end

-- Each evaluator returns fits, remaining before, retry, reset before, and a
-- commit function that writes the new state and returns remaining and reset
-- after consuming n.

local function fixed_window(key, R, P)
  local win = math.floor(now / P)
  local wend = (win + 1) * P
  local v = redis.call("HMGET", key, "w", "c")
  local c = 0
  if v[1] and tonumber(v[1]) == win then c = tonumber(v[2]) end
  local fits = c + n <= R
  local retry = 0
  if not fits then
    if n > R then retry = -1 else retry = wend - now end
  end
  local reset = 0
  if c > 0 then reset = wend - now end
  return fits, R - c, retry, reset, function()
    redis.call("HSET", key, "w", num(win), "c", num(c + n))
    redis.call("PEXPIRE", key, ms(wend - now))
    return R - c - n, wend - now
  end
end

local function sliding_log(key, R, P)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", num(now - P))
  local count = redis.call("ZCARD", key)
  local newest = now
  if count > 0 then
    local e = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
    newest = tonumber(e[2])
  end
  local fits = count + n <= R
  local retry = 0
  if not fits then
    if n > R then
      retry = -1
    else
      local i = count + n - R - 1
      local e = redis.call("ZRANGE", key, i, i, "WITHSCORES")
      retry = tonumber(e[2]) + P - now
    end
  end
  local reset = 0
  if count > 0 then reset = newest + P - now end
  return fits, R - count, retry, reset, function()
    -- A clock that stepped back must not reuse a (time, index) member.
    local t = now
    if newest > t then t = newest end
    for j = 1, n do
      redis.call("ZADD", key, num(t), num(t) .. ":" .. (count + j))
    end
    redis.call("PEXPIRE", key, ms(t + P - now))
    return R - count - n, t + P - now
  end
end

local function sliding_counter(key, R, P)
  local win = math.floor(now / P)
  local ws = win * P
  local e = now - ws
  local v = redis.call("HMGET", key, "w", "c", "p")
  local cur, prev = 0, 0
  if v[1] then
    local sw = tonumber(v[1])
    if sw == win then
      cur, prev = tonumber(v[2]), tonumber(v[3] or 0)
    elseif sw == win - 1 then
      prev = tonumber(v[2])
    end
  end
  -- estimate * P, kept as one product to avoid rounding the weight
  local estP = prev * (P - e) + cur * P
  local fits = estP + n * P <= R * P
  local retry = 0
  if not fits then
    if n > R then
      retry = -1
    elseif cur + n > R then
      retry = (ws + P - now) + math.ceil(P * (cur + n - R) / cur)
    else
      retry = math.ceil(P - (R - cur - n) * P / prev - e)
    end
  end
  local reset = 0
  if cur > 0 then reset = ws + 2 * P - now elseif prev > 0 then reset = ws + P - now end
  return fits, math.floor(R - estP / P + EPS), retry, reset, function()
    redis.call("HSET", key, "w", num(win), "c", num(cur + n), "p", num(prev))
    redis.call("PEXPIRE", key, ms(ws + 2 * P - now))
    return math.floor(R - (estP + n * P) / P + EPS), ws + 2 * P - now
  end
end

local function token_bucket(key, R, P, B)
  local v = redis.call("HMGET", key, "t", "ts")
  local tokens = B
  if v[1] then
    local el = now - tonumber(v[2])
    if el < 0 then el = 0 end
    tokens = tonumber(v[1]) + el * R / P
    if tokens > B then tokens = B end
  end
  local fits = tokens + EPS >= n
  local retry = 0
  if not fits then
    if n > B then retry = -1 else retry = (n - tokens) * P / R end
  end
  return fits, floor0(tokens), retry, (B - tokens) * P / R, function()
    local left = tokens - n
    if left < 0 then left = 0 end
    local reset = (B - left) * P / R
    redis.call("HSET", key, "t", num(left), "ts", num(now))
    redis.call("PEXPIRE", key, ms(reset))
    return floor0(left), reset
  end
end

local function gcra(key, R, P, B)
  local T = P / R
  local tau = B * T
  local tat = tonumber(redis.call("GET", key))
  if not tat or tat < now then tat = now end
  local new_tat = tat + n * T
  local allow_at = new_tat - tau
  local fits = allow_at <= now + EPS
  local retry = 0
  if not fits then
    if n > B then retry = -1 else retry = allow_at - now end
  end
  local before = floor0((now - tat + tau) / T)
  if before > B then before = B end
  return fits, before, retry, tat - now, function()
    redis.call("SET", key, num(new_tat), "PX", ms(new_tat - now))
    return floor0((now - allow_at) / T), new_tat - now
  end
end

local evaluators = {fixed_window, sliding_log, sliding_counter, token_bucket, gcra}

local np = #KEYS
local out = {1}
local commits = {}
local all = true
for i = 1, np do
  local a = 3 + 4 * (i - 1)
  local alg = tonumber(ARGV[a])
  local R, P, B = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local fits, rem, retry, reset, commit = evaluators[alg](KEYS[i], R, P, B)
  if not fits then all = false end
  local o = 2 + 4 * (i - 1)
  out[o], out[o + 1], out[o + 2], out[o + 3] = fits and 1 or 0, rem, retry, reset
  commits[i] = commit
end

if not all then
  out[1] = 0
elseif n > 0 then
  for i = 1, np do
    local rem, reset = commits[i]()
    local o = 2 + 4 * (i - 1)
    out[o + 1], out[o + 3] = rem, reset
  end
end

for i = 2, #out do
  local x = out[i]
  if x > 0 then out[i] = math.ceil(x - EPS) end
end
return out
