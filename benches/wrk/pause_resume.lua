-- wrk script: alternately pause and resume the jobs pr-0 .. pr-99 of queue bench_q.
--
--   wrk -t1 -c32 -d10s -s benches/wrk/pause_resume.lua http://127.0.0.1:<port>
--
-- Request n (per wrk thread, from 0) is
--   POST /funboost/pause_timing_job?job_id=pr-<k>&queue_name=bench_q&job_store_kind=redis   (n even)
--   POST /funboost/resume_timing_job?job_id=pr-<k>&queue_name=bench_q&job_store_kind=redis  (n odd)
-- with k = (floor(n / 2) + 37 * (thread - 1)) mod 100, i.e. pause pr-k, resume pr-k, pause
-- pr-(k+1), ... (parameters go in the query string, as funboost's router requires; no body).
--
-- REQUIREMENT: the harness must create the 100 jobs pr-0 .. pr-99 in bench_q before the run
-- (e.g. POST /funboost/add_timing_job {"queue_name":"bench_q","trigger":"interval","seconds":60,
-- "job_id":"pr-<k>","kwargs":{"x":1},"replace_existing":true}); pausing or resuming a missing
-- job answers succ:false "No job by the id of pr-<k> was found" and counts as a failure.
-- With 32 connections a pause and the resume of the same job are in flight together, so a job's
-- state after the run is whichever landed last (pause and resume both succeed either way).

SCRIPT_NAME = "pause_resume"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local n = 0
local offset = nil

function request()
  offset = offset or 37 * (tid - 1)
  local k = (math.floor(n / 2) + offset) % 100
  local op = (n % 2 == 0) and "pause_timing_job" or "resume_timing_job"
  n = n + 1
  return wrk.format("POST", "/funboost/" .. op .. "?job_id=pr-" .. k .. "&queue_name=bench_q&job_store_kind=redis")
end
