//! The audit trail in Redis (`{P}:audit`, a stream capped at `audit_max_records`; see
//! [`crate::audit`]). The `redis` store's scripts append a change's record themselves; this
//! module appends the memory store's (after its change: Spin's key-value store and Redis
//! cannot change together) and reads the trail newest first.

use super::layout::Keys;
use super::redis::{int, script_error, text};
use crate::audit::{Entry, Record};
use crate::error::ApiError;
use crate::host::Redis;

crate::lua_script!(
    /// Appends one record (and counts it).
    APPEND = "audit_append", 1,
    keys [audit, audit_counts],
    args [audit_keep, audit, audit_tally, deleted],
    entry [],
    concat!(crate::store_lua!(), r#"
local ae = audit_types(K.audit, K.audit_counts) if ae then return ae end
local deleted = nil
if A.deleted ~= '' then deleted = A.deleted end
audit_append(K.audit, K.audit_counts, A.audit_keep, A.audit, A.audit_tally, deleted)
return {TAG, 1}
"#)
);

crate::lua_script!(
    /// Reads the trail newest first from the entry id `start` ('' = the newest), keeping records that match the filters ('' = any): `queue` (records of every
    /// queue, `*`, match any), `job_id` (with `queue`, records of the whole queue, such as a
    /// scheduler pause, match too), `token`,
    /// and `patterns` (Lua patterns joined by \31: the caller's queues). Stops after `limit`
    /// matches or `budget` records read. Replies the cursor to continue from ('' at the trail's
    /// end), then `id, text, deleted` per match.
    READ = "audit_read", 1,
    keys [audit],
    args [start, limit, budget, queue, job_id, token, patterns],
    entry [],
    r#"
-- The id before a read entry's (ms and seq of real entries are far below 2^53).
local function older(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then return nil end
  if tonumber(seq) > 0 then return ms .. '-' .. string.format('%.0f', tonumber(seq) - 1) end
  if tonumber(ms) == 0 then return nil end
  return string.format('%.0f', tonumber(ms) - 1) .. '-18446744073709551615'
end
local pats = {}
for p in string.gmatch(A.patterns, '[^\31]+') do pats[#pats + 1] = p end
local function wanted(r)
  if type(r) ~= 'table' or type(r.queue) ~= 'string' then return false end
  local q, whole = r.queue, r.queue == '*'
  if #pats > 0 and not whole then
    local any = false
    for _, p in ipairs(pats) do if string.match(q, p) then any = true break end end
    if not any then return false end
  end
  if A.queue ~= '' and q ~= A.queue and not whole then return false end
  if A.job_id ~= '' then
    if r.job_id == nil then
      if A.queue == '' then return false end
    elseif r.job_id ~= A.job_id then return false end
  end
  if A.token ~= '' and r.token ~= A.token then return false end
  return true
end
local out = {TAG, ''}
local start = A.start
if start == '' then start = '+' end
local limit, budget = tonumber(A.limit), tonumber(A.budget)
local found, scanned = 0, 0
while found < limit and scanned < budget do
  local batch = redis.call('XREVRANGE', K.audit, start, '-', 'COUNT', math.min(500, budget - scanned))
  if #batch == 0 then out[2] = '' return out end
  for _, e in ipairs(batch) do
    scanned = scanned + 1
    out[2] = e[1]
    local f, text, deleted = e[2], '', ''
    for i = 1, #f, 2 do
      if f[i] == 'a' then text = f[i + 1] elseif f[i] == 'deleted' then deleted = f[i + 1] end
    end
    local ok, r = pcall(cjson.decode, text)
    if ok and wanted(r) then
      found = found + 1
      out[#out + 1] = e[1]
      out[#out + 1] = text
      out[#out + 1] = deleted
      if found >= limit then break end
    end
  end
  start = older(out[2])
  if not start then out[2] = '' return out end
end
return out
"#
);

/// How many records one read looks at, at most, before it answers with a cursor.
pub const READ_BUDGET: usize = 10_000;

/// What to read: filters ('' = any) and where to start.
#[derive(Clone, Debug, Default)]
pub struct Query<'a> {
    pub queue: &'a str,
    pub job_id: &'a str,
    pub token: &'a str,
    /// The caller's queue patterns (`*` globs); empty = every queue.
    pub scope: &'a [String],
    /// An entry id: read strictly older records ('' = from the newest).
    pub before: &'a str,
    pub limit: usize,
}

/// A read record: its entry id, its time (Unix ms), the record, and for a delete-all how many
/// jobs it deleted.
#[derive(Clone, Debug)]
pub struct Read {
    pub id: String,
    pub time_ms: i64,
    pub record: Record,
    pub deleted: Option<u64>,
}

pub struct AuditLog<'a> {
    redis: &'a dyn Redis,
    keys: Keys,
}

impl<'a> AuditLog<'a> {
    pub fn new(redis: &'a dyn Redis, prefix: &str) -> AuditLog<'a> {
        AuditLog { redis, keys: Keys::new(prefix) }
    }

    /// Appends `entry` (with how many jobs a delete-all deleted).
    pub fn append(&self, entry: &Entry, deleted: Option<u64>) -> Result<(), ApiError> {
        APPEND
            .call()
            .key("audit", self.keys.audit())
            .key("audit_counts", self.keys.audit_counts())
            .arg("audit_keep", entry.keep)
            .arg("audit", entry.text.as_str())
            .arg("audit_tally", entry.tally.as_str())
            .arg("deleted", deleted.map(|n| n.to_string()).unwrap_or_default())
            .run(self.redis)
            .map_err(script_error)?;
        Ok(())
    }

    /// The matching records, newest first, and the cursor to read on from (`None` at the end).
    pub fn read(&self, query: &Query) -> Result<(Vec<Read>, Option<String>), ApiError> {
        let patterns: Vec<String> = query.scope.iter().map(|glob| lua_pattern(glob)).collect();
        let start = match query.before {
            "" => String::new(),
            before => match crate::audit::id_before(before) {
                Some(start) => start,
                None => return Ok((Vec::new(), None)),
            },
        };
        let reply = READ
            .call()
            .key("audit", self.keys.audit())
            .arg("start", start)
            .arg("limit", query.limit)
            .arg("budget", READ_BUDGET)
            .arg("queue", query.queue)
            .arg("job_id", query.job_id)
            .arg("token", query.token)
            .arg("patterns", patterns.join("\u{1f}"))
            .run(self.redis)
            .map_err(script_error)?;
        let cursor = reply.first().and_then(text).filter(|c| !c.is_empty());
        let mut records = Vec::new();
        for row in reply.get(1..).unwrap_or_default().chunks_exact(3) {
            let (Some(id), Some(json)) = (text(&row[0]), text(&row[1])) else { continue };
            let Ok(record) = serde_json::from_str::<Record>(&json) else { continue };
            let time_ms = crate::audit::id_ms(&id).unwrap_or(0);
            records.push(Read { id, time_ms, record, deleted: int(&row[2]).map(|n| n.max(0) as u64) });
        }
        Ok((records, cursor))
    }
}

/// A `*` glob as an anchored Lua pattern: `*` any run, every other character itself (Lua's `%`
/// escapes any non-alphanumeric character, bytes of multi-byte characters included).
fn lua_pattern(glob: &str) -> String {
    let mut pattern = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => pattern.push_str(".*"),
            c if c.is_ascii_alphanumeric() => pattern.push(c),
            c if c.is_ascii() => {
                pattern.push('%');
                pattern.push(c);
            }
            // Non-ASCII: its bytes are >= 0x80, never magic, so they match themselves.
            c => pattern.push(c),
        }
    }
    pattern.push('$');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_lua_patterns_with_every_magic_character_escaped() {
        let cases = [("payments_*", "^payments%_.*$"), ("a.b", "^a%.b$"), ("%", "^%%$"), ("x-[y]", "^x%-%[y%]$"), ("队列*", "^队列.*$")];
        for (glob, want) in cases {
            assert_eq!(lua_pattern(glob), want, "{glob}");
        }
    }
}
