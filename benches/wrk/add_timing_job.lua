-- wrk script: POST /funboost/add_timing_job, one new interval job per request.
--
--   wrk -t1 -c32 -d10s -s benches/wrk/add_timing_job.lua http://127.0.0.1:<port>
--
-- Body: {"queue_name":"bench_q","trigger":"interval","seconds":60,"job_id":"<unique>",
--        "kwargs":{"x":1},"replace_existing":false}
-- The job id is "bench-<RUN_ID>-t<thread>-<n>": RUN_ID is unique per wrk run ($WRK_RUN_ID, else
-- os.time() plus 32 random bits, see common.lua), so ids never collide across threads or runs (a
-- collision would answer succ:false "conflicts with an existing job" and count as a failure).
-- Requires queue bench_q to be registered (consumer function add(x, y=5), broker REDIS). Every
-- request leaves a job behind in bench_q's Redis job store: clean up between runs if needed
-- (e.g. DELETE /funboost/delete_all_timing_jobs?queue_name=bench_q, or drop the Redis DB).

SCRIPT_NAME = "add_timing_job"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/json" }
local n = 0

function request()
  n = n + 1
  local body = '{"queue_name":"bench_q","trigger":"interval","seconds":60,"job_id":"bench-'
    .. RUN_ID .. "-t" .. tid .. "-" .. n
    .. '","kwargs":{"x":1},"replace_existing":false}'
  return wrk.format("POST", "/funboost/add_timing_job", headers, body)
end
