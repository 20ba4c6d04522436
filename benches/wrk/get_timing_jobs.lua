-- wrk script: GET /funboost/get_timing_jobs?queue_name=bench_list_q&job_store_kind=redis
--
--   wrk -t1 -c32 -d10s -s benches/wrk/get_timing_jobs.lua http://127.0.0.1:<port>
--
-- Requires: queue bench_list_q registered and holding a few jobs (the harness creates ~10 before
-- the run). funboost answers succ:true with an empty list even for an unknown queue, so a body
-- whose "total_count" is below $WRK_MIN_JOBS (default 1) also counts as a failure
-- (check_failed in WRK_RESULT); set WRK_MIN_JOBS=0 to accept an empty list.

SCRIPT_NAME = "get_timing_jobs"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local min_jobs = tonumber(os.getenv("WRK_MIN_JOBS") or "1") or 1

local req = nil

function request()
  -- built lazily: the Host header only exists after wrk.init()
  req = req or wrk.format("GET", "/funboost/get_timing_jobs?queue_name=bench_list_q&job_store_kind=redis")
  return req
end

function check_body(body)
  local count = tonumber(body:match('"total_count"%s*:%s*(%d+)'))
  if count == nil then
    return "no total_count"
  end
  if count < min_jobs then
    return "total_count " .. count .. " < " .. min_jobs
  end
  return nil
end
