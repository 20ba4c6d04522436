//! Moving a layout-1 store into layout 2 while it keeps firing. Each step moves a batch of jobs
//! in one script, each job only if its layout-1 text is still the one read (so a layout-1
//! ticker or API of an older replica that changed it meanwhile wins, and the job is moved on a
//! later step); a moved job is gone from layout 1 in the same step, so at every moment a job is
//! in exactly one layout and fires from that one only. Jobs due soonest move first. When layout
//! 1 is empty the store's format becomes 2. Steps are idempotent and a crash between them loses
//! and doubles nothing: the next step goes on from what is left.
//!
//! Ticks run the steps (a bounded number per tick); an API write that meets a job still in
//! layout 1 moves that job first. An older replica that writes layout 1 after the upgrade (a
//! rolling update) only creates more to move: the ticks notice and move it too. If both
//! layouts hold a job (an older replica added it again after it moved), the layout-1 copy is
//! the newer write and wins.

use anyhow::{Context, Result};

use super::layout::v1_member;
use super::record::{self, Unreadable};
use super::redis::{int, script_error, text, RedisStore};
use super::v1;
use crate::error::ApiError;
use crate::host::RedisArg;
use crate::job::history;

crate::lua_script!(
    /// Moves jobs from layout 1 into layout 2 (entries: the job's queue and id, its layout-1
    /// text as read, and its layout-2 texts and score). Replies how many moved, how many had
    /// changed (left for a later step), and how many layout-1 jobs are left; with none left,
    /// removes layout 1's indexes and records format 2.
    pub MIGRATE = "migrate", 1,
    keys [format, job_queues, heads, paused_queues, v1_jobs, v1_due, v1_queues, upgrade_cursor],
    args [spec_prefix, state_prefix, hist_prefix, next_prefix, ids_prefix, v1_queue_prefix, v1_held_prefix],
    entry [queue, job_id, v1_text, spec, state, score, history],
    concat!(crate::store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local prefixes = {{A.spec_prefix, 'hash'}, {A.state_prefix, 'hash'}, {A.hist_prefix, 'hash'}, {A.next_prefix, 'zset'}, {A.ids_prefix, 'zset'}}
for _, k in ipairs({{K.job_queues, 'set'}, {K.heads, 'zset'}, {K.paused_queues, 'set'}, {K.v1_jobs, 'hash'}, {K.v1_due, 'zset'}, {K.v1_queues, 'set'}}) do
  local e = wrong_type(k[1], k[2]) if e then return e end
end
local checked = {}
for e = 1, N do
  local q = field(e, E.queue)
  if not checked[q] then
    local te = queue_types(prefixes, q) if te then return te end
    checked[q] = true
  end
end
local moved, changed = 0, 0
for e = 1, N do
  local q, id = field(e, E.queue), field(e, E.job_id)
  local m = q .. '\31' .. id
  if redis.call('HGET', K.v1_jobs, m) == field(e, E.v1_text) then
    redis.call('HSET', A.spec_prefix .. q, id, field(e, E.spec))
    redis.call('HSET', A.state_prefix .. q, id, field(e, E.state))
    local hist = field(e, E.history)
    if hist == '' then redis.call('HDEL', A.hist_prefix .. q, id) else redis.call('HSET', A.hist_prefix .. q, id, hist) end
    redis.call('ZADD', A.next_prefix .. q, field(e, E.score), id)
    redis.call('ZADD', A.ids_prefix .. q, 0, id)
    redis.call('SADD', K.job_queues, q)
    redis.call('HDEL', K.v1_jobs, m)
    redis.call('ZREM', K.v1_due, m)
    redis.call('ZREM', A.v1_held_prefix .. q, m)
    redis.call('SREM', A.v1_queue_prefix .. q, id)
    if redis.call('SCARD', A.v1_queue_prefix .. q) == 0 then
      redis.call('SREM', K.v1_queues, q)
      redis.call('DEL', A.v1_held_prefix .. q)
    end
    moved = moved + 1
  else
    changed = changed + 1
  end
end
for q in pairs(checked) do refresh_head(K.heads, K.paused_queues, A.next_prefix, q) end
local left = redis.call('HLEN', K.v1_jobs)
if left == 0 then
  redis.call('DEL', K.v1_due, K.v1_queues, K.upgrade_cursor)
  if tonumber(redis.call('GET', K.format) or '0') < 2 then redis.call('SET', K.format, '2') end
end
return {TAG, moved, changed, left}
"#)
);

/// Jobs per upgrade step.
pub const BATCH: usize = 500;

/// What the steps so far did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub moved: u64,
    /// Jobs an older replica changed while a step read them (moved by a later step).
    pub changed: u64,
    /// Layout-1 jobs left.
    pub left: u64,
}

/// The layout-2 texts of a layout-1 job: spec, state, score and history. A text that cannot be
/// read is kept as the spec of a job in status `error`, so that it is listed, not lost.
fn convert(queue: &str, job_id: &str, v1_text: &str) -> (String, String, i64, String) {
    match v1::decode(v1_text) {
        Ok((job, fires)) => {
            let fires = &fires[fires.len().saturating_sub(crate::job::HISTORY_LEN)..];
            (record::encode_spec(&job), record::encode_state(&job, &record::new_version()), record::score(&job), history::encode(fires))
        }
        Err(Unreadable(reason)) => {
            let state = serde_json::json!({"v": record::new_version(), "s": "e", "e": format!("queue {queue}, job {job_id}: {reason}")});
            (v1_text.to_string(), state.to_string(), super::layout::Stopped::ERROR, String::new())
        }
    }
}

fn migrate(store: &RedisStore, jobs: &[(String, String, String)]) -> Result<Progress, ApiError> {
    let keys = store.keys();
    let v1 = keys.v1();
    let mut call = MIGRATE
        .call()
        .key("format", keys.format())
        .key("job_queues", keys.job_queues())
        .key("heads", keys.heads())
        .key("paused_queues", keys.paused_queues())
        .key("v1_jobs", v1.jobs.clone())
        .key("v1_due", v1.due)
        .key("v1_queues", v1.queues)
        .key("upgrade_cursor", keys.upgrade_cursor())
        .arg("spec_prefix", keys.queue_prefix("spec"))
        .arg("state_prefix", keys.queue_prefix("state"))
        .arg("hist_prefix", keys.queue_prefix("hist"))
        .arg("next_prefix", keys.queue_prefix("next"))
        .arg("ids_prefix", keys.queue_prefix("ids"))
        .arg("v1_queue_prefix", v1.queue_prefix)
        .arg("v1_held_prefix", v1.held_prefix);
    for (queue, job_id, v1_text) in jobs {
        let (spec, state, score, history) = convert(queue, job_id, v1_text);
        call.field("queue", queue)
            .field("job_id", job_id)
            .field("v1_text", v1_text)
            .field("spec", spec)
            .field("state", state)
            .field("score", score)
            .field("history", history);
    }
    let reply = call.run(store.redis()).map_err(script_error)?;
    let n = |i: usize| reply.get(i).and_then(int).unwrap_or(0).max(0) as u64;
    Ok(Progress { moved: n(0), changed: n(1), left: n(2) })
}

/// Moves one job to layout 2 if it is still in layout 1 (an API write that found it there).
pub fn one(store: &RedisStore, queue: &str, job_id: &str) -> Result<(), ApiError> {
    let member = v1_member(queue, job_id);
    let reply = super::redis::run(store.redis(), "HGET", &[RedisArg::Bytes(store.keys().v1().jobs.into_bytes()), RedisArg::Bytes(member.into_bytes())])?;
    if let Some(v1_text) = reply.first().and_then(text) {
        migrate(store, &[(queue.to_string(), job_id.to_string(), v1_text)])?;
    }
    Ok(())
}

/// Up to `max_batches` steps: first the layout-1 jobs due within the next minute (by the
/// server clock `now_us`), then the rest in hash order, resuming where the last step stopped.
pub fn step(store: &RedisStore, now_us: i64, max_batches: usize) -> Result<Progress> {
    let redis = store.redis();
    let v1 = store.keys().v1();
    let cursor_key = store.keys().upgrade_cursor();
    let mut progress = Progress::default();
    for _ in 0..max_batches {
        let soon = (now_us + 60_000_000).to_string();
        let args = [v1.due.clone(), "-inf".into(), soon, "LIMIT".into(), "0".into(), BATCH.to_string()];
        let due: Vec<String> = redis
            .execute("ZRANGEBYSCORE", &args.map(|a| RedisArg::Bytes(a.into_bytes())))
            .context("reading layout 1's due jobs")?
            .iter()
            .filter_map(text)
            .collect();
        let members = if due.is_empty() {
            let cursor = redis
                .execute("GET", &[RedisArg::Bytes(cursor_key.clone().into_bytes())])
                .context("reading the upgrade cursor")?
                .first()
                .and_then(text)
                .unwrap_or_else(|| "0".into());
            let args = [v1.jobs.clone(), cursor, "COUNT".into(), BATCH.to_string()];
            let reply = redis.execute("HSCAN", &args.map(|a| RedisArg::Bytes(a.into_bytes()))).context("scanning layout 1's jobs")?;
            let next = reply.first().and_then(text).unwrap_or_else(|| "0".into());
            redis
                .execute("SET", &[RedisArg::Bytes(cursor_key.clone().into_bytes()), RedisArg::Bytes(next.clone().into_bytes())])
                .context("saving the upgrade cursor")?;
            // HSCAN answers field, value pairs: the values are read again below, with the rest.
            let members: Vec<String> = reply.get(1..).unwrap_or_default().iter().step_by(2).filter_map(text).collect();
            if members.is_empty() && next == "0" {
                break;
            }
            members
        } else {
            due
        };
        let mut hmget = vec![RedisArg::Bytes(v1.jobs.clone().into_bytes())];
        hmget.extend(members.iter().map(|m| RedisArg::Bytes(m.clone().into_bytes())));
        let texts = redis.execute("HMGET", &hmget).context("reading layout 1's jobs")?;
        let jobs: Vec<(String, String, String)> = members
            .iter()
            .zip(texts.iter().map(text))
            .filter_map(|(member, text)| {
                let (queue, job_id) = member.split_once('\u{1f}')?;
                Some((queue.to_string(), job_id.to_string(), text?))
            })
            .collect();
        if jobs.is_empty() {
            continue;
        }
        let done = migrate(store, &jobs).map_err(|e| anyhow::anyhow!(e.message))?;
        progress.moved += done.moved;
        progress.changed += done.changed;
        progress.left = done.left;
        if done.left == 0 {
            break;
        }
    }
    Ok(progress)
}
