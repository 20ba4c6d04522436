//! What the `redis` store holds, read straight from Redis for the end-to-end tests (layout 2,
//! `funboost_edge::store::layout`), with the default key prefix. Shared by `tests/common` and
//! `tests/firing` (each includes this file).

use std::collections::HashMap;

use funboost_edge::job::StoreKind;
use funboost_edge::store::layout::{Keys, Stopped};
use funboost_edge::store::record;
use serde_json::{json, Value};

/// The default key prefix's keys.
pub fn keys() -> Keys {
    Keys::new("funboost_edge")
}

/// A stored job as a JSON object with the job's fields by name (`message_kwargs`, `paused`,
/// `next_run: {wall_us, fold, utc_us}`, `fires`, ...) and its `version`, which every write
/// changes; `None` when the job is not stored.
pub fn stored_job(conn: &mut redis::Connection, queue: &str, job_id: &str) -> Option<Value> {
    let keys = keys();
    let (spec, state): (Option<String>, Option<String>) =
        redis::pipe().cmd("HGET").arg(keys.spec(queue)).arg(job_id).cmd("HGET").arg(keys.state(queue)).arg(job_id).query(conn).expect("HGET spec and state");
    let state = state?;
    Some(view(queue, job_id, spec.as_deref().unwrap_or_default(), &state))
}

fn view(queue: &str, job_id: &str, spec: &str, state: &str) -> Value {
    let (job, version) = record::decode(queue, job_id, StoreKind::Redis, spec, state).unwrap_or_else(|e| panic!("{queue}/{job_id} is unreadable: {e:?}"));
    json!({
        "job_id": job.job_id, "queue_name": job.queue_name, "trigger": job.trigger, "timezone": job.timezone,
        "created_us": job.created_us, "args": job.args, "kwargs": job.kwargs, "message_kwargs": job.message_kwargs,
        "misfire_grace_time": job.misfire_grace_time, "coalesce": job.coalesce, "broker_kind": job.broker_kind,
        "priority": job.priority, "extra": job.extra,
        "next_run": job.next_run.map(|t| json!({"wall_us": t.wall_us, "fold": t.fold, "utc_us": t.utc_us})),
        "paused": job.paused, "fires": job.fires, "missed": job.missed, "coalesced": job.coalesced,
        "last_fire_us": job.last_fire_us, "error": job.error, "status": job.status(), "version": version,
    })
}

/// Every stored job, by `(queue, job_id)`.
pub fn all_stored_jobs(conn: &mut redis::Connection) -> HashMap<(String, String), Value> {
    let keys = keys();
    let queues: Vec<String> = redis::cmd("SMEMBERS").arg(keys.job_queues()).query(conn).expect("SMEMBERS");
    let mut jobs = HashMap::new();
    for queue in queues {
        let states: HashMap<String, String> = redis::cmd("HGETALL").arg(keys.state(&queue)).query(conn).expect("HGETALL states");
        let specs: HashMap<String, String> = redis::cmd("HGETALL").arg(keys.spec(&queue)).query(conn).expect("HGETALL specs");
        for (id, state) in states {
            let spec = specs.get(&id).map(String::as_str).unwrap_or_default();
            jobs.insert((queue.clone(), id.clone()), view(&queue, &id, spec, &state));
        }
    }
    jobs
}

/// The job's score in its queue's `next` index while it is due to run (UTC µs): `None` when it
/// is not stored, not running, or its queue's scheduler is paused (what a tick looks at).
pub fn due_score(conn: &mut redis::Connection, queue: &str, job_id: &str) -> Option<i64> {
    let keys = keys();
    let (score, paused): (Option<f64>, bool) =
        redis::pipe().cmd("ZSCORE").arg(keys.next(queue)).arg(job_id).cmd("SISMEMBER").arg(keys.paused_queues()).arg(queue).query(conn).expect("ZSCORE");
    score.map(|s| s as i64).filter(|&s| s < Stopped::MIN && !paused)
}

/// How many jobs are due to run, in all queues (running, their scheduler not paused).
pub fn due_count(conn: &mut redis::Connection) -> i64 {
    due_until(conn, Stopped::MIN - 1)
}

/// How many jobs are due to run by `until_us` (UTC µs), in all queues.
pub fn due_until(conn: &mut redis::Connection, until_us: i64) -> i64 {
    let keys = keys();
    let queues: Vec<String> = redis::cmd("ZRANGEBYSCORE").arg(keys.heads()).arg("-inf").arg(until_us).query(conn).expect("ZRANGEBYSCORE heads");
    queues.iter().map(|q| redis::cmd("ZCOUNT").arg(keys.next(q)).arg("-inf").arg(until_us).query::<i64>(conn).expect("ZCOUNT")).sum()
}

/// How many jobs are stored, in all queues.
pub fn stored_count(conn: &mut redis::Connection) -> i64 {
    let keys = keys();
    let queues: Vec<String> = redis::cmd("SMEMBERS").arg(keys.job_queues()).query(conn).expect("SMEMBERS");
    queues.iter().map(|q| redis::cmd("HLEN").arg(keys.state(q)).query::<i64>(conn).expect("HLEN")).sum()
}

/// Moves a running job's next run `secs` earlier (as if the ticks had stopped that long before
/// it), keeping its version.
pub fn backdate(conn: &mut redis::Connection, queue: &str, job_id: &str, secs: i64) {
    let keys = keys();
    let state: String = redis::cmd("HGET").arg(keys.state(queue)).arg(job_id).query(conn).expect("HGET state");
    let mut state: Value = serde_json::from_str(&state).expect("state JSON");
    let wall = state["n"][0].as_i64().expect("a running job") - secs * 1_000_000;
    state["n"][0] = json!(wall);
    let score: f64 = redis::cmd("ZSCORE").arg(keys.next(queue)).arg(job_id).query(conn).expect("ZSCORE");
    let score = score as i64 - secs * 1_000_000;
    redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(keys.state(queue))
        .arg(job_id)
        .arg(state.to_string())
        .cmd("ZADD")
        .arg(keys.next(queue))
        .arg(score)
        .arg(job_id)
        .cmd("ZADD")
        .arg(keys.heads())
        .arg("LT")
        .arg(score)
        .arg(queue)
        .exec(conn)
        .expect("backdate");
}

/// Puts a job in its queue's `next` index at `score_us` (and its queue in `heads` no later),
/// leaving the job's state as it is: when a tick looks at it, not what it computes from.
pub fn set_next_score(conn: &mut redis::Connection, queue: &str, job_id: &str, score_us: i64) {
    let keys = keys();
    redis::pipe()
        .atomic()
        .cmd("ZADD")
        .arg(keys.next(queue))
        .arg(score_us)
        .arg(job_id)
        .cmd("ZADD")
        .arg(keys.heads())
        .arg("LT")
        .arg(score_us)
        .arg(queue)
        .exec(conn)
        .expect("ZADD");
}
