-- wrk script: GET /funboost/health on funboost-edge only (funboost's router has no such route).
--
--   wrk -t1 -c32 -d10s -s benches/wrk/health.lua http://127.0.0.1:<port>
--
-- The cheapest request that reaches Redis: a fresh component instance, a Redis connection and
-- one TIME. Its throughput is the floor the other routes are measured against.

SCRIPT_NAME = "health"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local req = nil

function request()
  req = req or wrk.format("GET", "/funboost/health")
  return req
end
