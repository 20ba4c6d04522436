-- Shared part of the wrk scripts in this directory (loaded with dofile by each of them; not a
-- wrk script by itself).
--
-- funboost's router answers HTTP 200 even for business errors ({"succ": false, "msg": ...}), so
-- the status alone proves nothing: every response is checked for a JSON `"succ": true` (with or
-- without blanks) and, optionally, by the script's own `check_body(body)` hook (returns nil when
-- the body is fine, or a short reason). Counts are kept per wrk thread (each thread has its own
-- Lua state) and collected in done() through the thread objects saved by setup().
--
-- done() prints exactly one line:
--   WRK_RESULT {"script":..,"requests":..,"duration_s":..,"rps":..,"p50_ms":..,"p90_ms":..,
--               "p99_ms":..,"max_ms":..,"mean_ms":..,"failures":..,"non_succ":..,"non_200":..,
--               "check_failed":..,"socket_errors":..,"socket_error_detail":{connect,read,write,
--               timeout},"responses":..,"run_id":..,"sample_failure":..}
-- failures = non_200 + non_succ + check_failed (each response counted once, first reason wins);
-- socket_errors = connect + read + write + timeout errors reported by wrk.
--
-- Globals a script may set before/after dofile: SCRIPT_NAME (string), check_body (function).
-- Globals this file provides to the scripts: tid (1-based wrk thread number, set by setup()),
-- RUN_ID (unique per wrk run: $WRK_RUN_ID if set, else os.time() plus 32 random bits; the same
-- value in every thread).

local function random_hex()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local bytes = f:read(4)
    f:close()
    if bytes and #bytes == 4 then
      return string.format("%02x%02x%02x%02x", bytes:byte(1, 4))
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  return string.format("%08x", math.random(0, 0x7fffffff))
end

RUN_ID = os.getenv("WRK_RUN_ID") or (tostring(os.time()) .. "-" .. random_hex())
tid = 1

-- per-thread counters (thread Lua states)
responses = 0
non_200 = 0
non_succ = 0
check_failed = 0
sample_failure = nil

-- main Lua state
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  thread:set("RUN_ID", RUN_ID)
end

local function remember(what)
  if sample_failure == nil then
    sample_failure = what
  end
end

function response(status, headers, body)
  responses = responses + 1
  body = body or ""
  if status ~= 200 then
    non_200 = non_200 + 1
    remember("HTTP " .. tostring(status) .. ": " .. body)
  elseif not body:find('"succ"%s*:%s*true') then
    non_succ = non_succ + 1
    remember(body)
  elseif check_body then
    local reason = check_body(body)
    if reason then
      check_failed = check_failed + 1
      remember(reason .. ": " .. body)
    end
  end
end

local function json_string(s)
  if s == nil then
    return "null"
  end
  s = tostring(s)
  if #s > 300 then
    s = s:sub(1, 300):gsub("[\128-\255]+$", "") .. "..."
  end
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

local function ms(us)
  return string.format("%.3f", (us or 0) / 1000)
end

function done(summary, latency, requests)
  local total = { responses = 0, non_200 = 0, non_succ = 0, check_failed = 0 }
  local sample = nil
  for _, thread in ipairs(threads) do
    for k, _ in pairs(total) do
      total[k] = total[k] + (tonumber(thread:get(k)) or 0)
    end
    sample = sample or thread:get("sample_failure")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local duration_s = summary.duration / 1e6
  local rps = duration_s > 0 and summary.requests / duration_s or 0
  local fields = {
    '"script":' .. json_string(SCRIPT_NAME or "?"),
    string.format('"requests":%d', summary.requests),
    string.format('"duration_s":%.3f', duration_s),
    string.format('"rps":%.1f', rps),
    '"p50_ms":' .. ms(latency:percentile(50)),
    '"p90_ms":' .. ms(latency:percentile(90)),
    '"p99_ms":' .. ms(latency:percentile(99)),
    '"max_ms":' .. ms(latency.max),
    '"mean_ms":' .. ms(latency.mean),
    string.format('"failures":%d', total.non_200 + total.non_succ + total.check_failed),
    string.format('"non_succ":%d', total.non_succ),
    string.format('"non_200":%d', total.non_200),
    string.format('"check_failed":%d', total.check_failed),
    string.format('"socket_errors":%d', socket_errors),
    string.format('"socket_error_detail":{"connect":%d,"read":%d,"write":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.timeout),
    string.format('"responses":%d', total.responses),
    '"run_id":' .. json_string(RUN_ID),
    '"sample_failure":' .. json_string(sample),
  }
  io.write("WRK_RESULT {" .. table.concat(fields, ",") .. "}\n")
  io.flush()
end
