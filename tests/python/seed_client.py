"""The seed's Python client example (seed-timing-api, "Python client example"), run against
funboost-edge: add an interval job and a cron job, list all jobs and one queue's jobs, then
pause, resume and delete the interval job, with `requests` exactly as the seed does (pause,
resume and delete carry their arguments in the query string, `params=`).

Usage: python seed_client.py [BASE_URL]
  BASE_URL defaults to $FUNBOOST_EDGE_URL, else http://127.0.0.1:3000 (what `spin up` serves).
  $FUNBOOST_EDGE_QUEUE names the queue (default test_queue); $FUNBOOST_EDGE_API_TOKEN, when
  set, is sent as `Authorization: Bearer <token>`.

Every call must answer HTTP 200 with succ=true; the script exits non-zero otherwise.
"""

import json
import os
import sys

import requests

base_url = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FUNBOOST_EDGE_URL", "http://127.0.0.1:3000")).rstrip("/")
queue_name = os.environ.get("FUNBOOST_EDGE_QUEUE", "test_queue")
token = os.environ.get("FUNBOOST_EDGE_API_TOKEN")
headers = {"Authorization": f"Bearer {token}"} if token else {}


def show(resp):
    """Prints the response as the seed does and checks it succeeded."""
    body = resp.json()
    print(json.dumps(body, indent=2, ensure_ascii=False))
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text}"
    assert body["succ"] is True, f"succ is not true: {resp.text}"
    return body["data"]


# 1. An interval job that runs every 10 seconds
def add_interval_job():
    url = f"{base_url}/funboost/add_timing_job"
    data = {
        "queue_name": queue_name,
        "trigger": "interval",
        "seconds": 10,
        "job_id": "interval_job_10s",
        "kwargs": {"x": 10, "y": 20},
        "job_store_kind": "redis",
        "replace_existing": True,
    }
    resp = requests.post(url, json=data, headers=headers)
    return show(resp)


# 2. A cron job that runs every day at 15:00
def add_cron_job():
    url = f"{base_url}/funboost/add_timing_job"
    data = {
        "queue_name": queue_name,
        "trigger": "cron",
        "hour": "15",
        "minute": "0",
        "job_id": "daily_3pm_job",
        "args": [100, 200],
        "job_store_kind": "redis",
    }
    resp = requests.post(url, json=data, headers=headers)
    return show(resp)


# 3. All timing jobs
def get_all_jobs():
    url = f"{base_url}/funboost/get_timing_jobs"
    params = {"job_store_kind": "redis"}
    resp = requests.get(url, params=params, headers=headers)
    return show(resp)


# 4. The timing jobs of one queue
def get_queue_jobs():
    url = f"{base_url}/funboost/get_timing_jobs"
    params = {"queue_name": queue_name, "job_store_kind": "redis"}
    resp = requests.get(url, params=params, headers=headers)
    return show(resp)


# 5. Pause a timing job
def pause_job():
    url = f"{base_url}/funboost/pause_timing_job"
    params = {"job_id": "interval_job_10s", "queue_name": queue_name, "job_store_kind": "redis"}
    resp = requests.post(url, params=params, headers=headers)
    return show(resp)


# 6. Resume a timing job
def resume_job():
    url = f"{base_url}/funboost/resume_timing_job"
    params = {"job_id": "interval_job_10s", "queue_name": queue_name, "job_store_kind": "redis"}
    resp = requests.post(url, params=params, headers=headers)
    return show(resp)


# 7. Delete a timing job
def delete_job():
    url = f"{base_url}/funboost/delete_timing_job"
    params = {"job_id": "interval_job_10s", "queue_name": queue_name, "job_store_kind": "redis"}
    resp = requests.delete(url, params=params, headers=headers)
    return show(resp)


if __name__ == "__main__":
    print("1. add an interval job")
    job = add_interval_job()
    assert job["job_id"] == "interval_job_10s" and job["trigger"] == "interval", job

    print("\n2. add a cron job")
    job = add_cron_job()
    assert job["next_run_time"].endswith(" 15:00:00+08:00"), job

    print("\n3. all jobs")
    data = get_all_jobs()
    listed = {j["job_id"] for j in data["jobs"]}
    assert {"interval_job_10s", "daily_3pm_job"} <= listed, data
    assert data["count"] == len(data["jobs"]) and data["total_count"] == data["count"], data

    print("\n4. one queue's jobs")
    data = get_queue_jobs()
    assert [j["job_id"] for j in data["jobs_by_queue"][queue_name]] == [j["job_id"] for j in data["jobs"]], data

    print("\n5. pause")
    job = pause_job()
    assert job["status"] == "paused" and job["next_run_time"] is None, job

    print("\n6. resume")
    job = resume_job()
    assert job["status"] == "running" and job["next_run_time"], job

    print("\n7. delete")
    show_data = delete_job()
    assert show_data is None

    remaining = [j["job_id"] for j in get_queue_jobs()["jobs"]]
    assert "interval_job_10s" not in remaining and "daily_3pm_job" in remaining, remaining
    print("\nseed client: all calls succeeded")
